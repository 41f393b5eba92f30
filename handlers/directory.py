"""Who is where: a sender's community and units, and the chats of a department."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.context import Context
from handlers.core.messages import Recipient
from handlers.rules import units
from storage.models import (
    Binding,
    ChatIdentity,
    Community,
    StaffGroup,
    StaffMember,
    Ticket,
    Unit,
)

# Ways a request reaches the desk without a chat (来电, 来访, 来信): the channel recorded on a
# ticket the desk files for a caller, where nothing can be sent.
OFFLINE = ("phone", "counter", "letter")


async def bound_units(session: AsyncSession, person_id: int | None) -> list[tuple[Unit, Binding]]:
    """The units a person is bound to, with the binding (role), oldest first."""
    if person_id is None:
        return []
    rows = await session.exec(
        select(Unit, Binding)
        .join(Binding, col(Binding.unit_id) == col(Unit.id))
        .where(Binding.person_id == person_id)
        .order_by(col(Binding.id))
    )
    return [(unit, binding) for unit, binding in rows.all()]


async def community_of(ctx: Context) -> Community | None:
    """The sender's community: their first bound unit's, a staff member's, else the first."""
    if ctx.person is not None:
        units = await bound_units(ctx.session, ctx.person.id)
        if units:
            return await ctx.session.get(Community, units[0][0].community_id)
    for member in ctx.staff:
        if member.community_id is not None:
            return await ctx.session.get(Community, member.community_id)
    return (await ctx.session.exec(select(Community).order_by(col(Community.id)))).first()


async def department_chats(
    session: AsyncSession, community_id: int, department: str
) -> list[Recipient]:
    """Every group chat bound to a department of a community, on any channel."""
    groups = await session.exec(
        select(StaffGroup).where(
            StaffGroup.community_id == community_id, StaffGroup.department == department
        )
    )
    return [Recipient(g.channel, g.chat_id) for g in groups.all()]


async def people_with_role(
    session: AsyncSession, community_id: int | None, *roles: str
) -> list[Recipient]:
    """Private chats of a community's supervisors or directors (or company-wide ones)."""
    query = select(StaffMember).where(
        col(StaffMember.role).in_(roles), col(StaffMember.active).is_(True)
    )
    members = (await session.exec(query)).all()
    return [
        Recipient(m.channel, m.external_user_id)
        for m in members
        if m.community_id in (None, community_id)
    ]


async def person_chats(session: AsyncSession, person_id: int | None) -> list[Recipient]:
    """Every chat account of a person, each in the language they chose."""
    if person_id is None:
        return []
    rows = await session.exec(select(ChatIdentity).where(ChatIdentity.person_id == person_id))
    return [Recipient(i.channel, i.external_user_id, i.locale) for i in rows.all()]


async def unit_by_label(session: AsyncSession, community_id: int | None, label: str) -> Unit | None:
    """A unit by its label as people type it: `2栋1单元802`, `2号楼1单元802`, `2-1-802`,
    `２栋１单元８０２` … (see handlers/rules/units.py); None when none or several match."""
    query = select(Unit)
    if community_id is not None:
        query = query.where(Unit.community_id == community_id)
    exact = (await session.exec(query.where(Unit.label == normalise_label(label)))).first()
    if exact is not None:
        return exact
    address = units.parse(label)
    if address is None:
        return None
    # One indexed look-up by the usual spellings of the address, not a scan of the units.
    found = (await session.exec(query.where(col(Unit.label).in_(address.spellings())))).all()
    return found[0] if len(found) == 1 else None


async def closest_units(
    session: AsyncSession, community_id: int | None, label: str, limit: int = 5
) -> list[Unit]:
    """The units whose labels are nearest to a label that matched none ("did you mean")."""
    query = select(Unit.id, Unit.label)
    if community_id is not None:
        query = query.where(Unit.community_id == community_id)
    labels = {unit_label: unit_id for unit_id, unit_label in (await session.exec(query)).all()}
    near = units.closest(label, labels, limit)
    found = (
        await session.exec(select(Unit).where(col(Unit.id).in_(labels[n] for n in near)))
    ).all()
    return sorted(found, key=lambda unit: near.index(unit.label))


def normalise_label(label: str) -> str:
    """A label as stored: without spaces, with ASCII digits, 栋/单元 kept as typed."""
    table = str.maketrans("０１２３４５６７８９", "0123456789")
    return "".join(label.translate(table).split())


async def ticket_resident(session: AsyncSession, ticket: Ticket) -> list[Recipient]:
    """Where to tell the resident about their ticket: every chat of the person, else
    the chat it came from, in the language they chose (none for a call, a visit or a
    letter the desk filed: the desk reaches that caller by phone)."""
    chats = await person_chats(session, ticket.person_id)
    if chats:
        return chats
    if not ticket.channel or ticket.channel in ("system", *OFFLINE):
        return []
    identity = (
        await session.exec(
            select(ChatIdentity).where(
                ChatIdentity.channel == ticket.channel,
                ChatIdentity.external_user_id == ticket.chat_id,
            )
        )
    ).first()
    return [Recipient(ticket.channel, ticket.chat_id, identity.locale if identity else None)]


def private_chat(member: StaffMember) -> Recipient:
    return Recipient(member.channel, member.external_user_id)
