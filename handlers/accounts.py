"""Who writes from a chat account: the identity and person behind it, the language they
chose, the staff records and department groups of a staff member, the managers' accounts.

Channels ask these questions when they must answer without the engine (a sticker, a
button that went stale, a message they could not read) or set something up for a user
(the console's watched group chats, Telegram's per-supervisor command menus).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.roles import MANAGERS
from storage.models import ChatIdentity, Community, Person, StaffGroup, StaffMember


async def account(
    session: AsyncSession, channel: str, user_id: str
) -> tuple[ChatIdentity | None, Person | None]:
    """A chat account's identity and, once bound, the person."""
    identity = (
        await session.exec(
            select(ChatIdentity).where(
                ChatIdentity.channel == channel, ChatIdentity.external_user_id == user_id
            )
        )
    ).first()
    person = None
    if identity is not None and identity.person_id is not None:
        person = await session.get(Person, identity.person_id)
    return identity, person


async def chosen_locale(session: AsyncSession, channel: str, user_id: str) -> str | None:
    """The language the user chose (`/lang`); None when they never did."""
    identity, _ = await account(session, channel, user_id)
    return identity.locale if identity is not None else None


async def is_department_chat(session: AsyncSession, channel: str, chat_id: str) -> bool:
    """Whether a group chat is some department's work group already."""
    found = await session.exec(
        select(StaffGroup.id).where(StaffGroup.channel == channel, StaffGroup.chat_id == chat_id)
    )
    return found.first() is not None


async def manager_accounts(session: AsyncSession, channel: str) -> list[str]:
    """The user ids of the active supervisors and directors on a channel, each once."""
    members = await session.exec(
        select(StaffMember)
        .where(
            StaffMember.channel == channel,
            col(StaffMember.role).in_(MANAGERS),
            col(StaffMember.active).is_(True),
        )
        .order_by(col(StaffMember.id))
    )
    return list(dict.fromkeys(m.external_user_id for m in members.all()))


@dataclass(frozen=True)
class StaffDesk:
    """A staff member's records on one channel and the department groups they work in."""

    member: StaffMember  # the record found by name or user id
    members: list[StaffMember]  # every active record of that account
    groups: list[StaffGroup] = field(default_factory=list)
    community_codes: dict[int, str] = field(default_factory=dict)


async def staff_desk(session: AsyncSession, channel: str, who: str) -> StaffDesk | None:
    """A staff member by user id or name, with the groups of their departments (in their
    communities; company-wide staff: every community's); None when nobody is called so."""
    found = (
        await session.exec(
            select(StaffMember)
            .where(
                StaffMember.channel == channel,
                col(StaffMember.active).is_(True),
                or_(StaffMember.external_user_id == who, StaffMember.name == who),
            )
            .order_by(col(StaffMember.id))
        )
    ).first()
    if found is None:
        return None
    members = list(
        (
            await session.exec(
                select(StaffMember)
                .where(
                    StaffMember.channel == channel,
                    StaffMember.external_user_id == found.external_user_id,
                    col(StaffMember.active).is_(True),
                )
                .order_by(col(StaffMember.id))
            )
        ).all()
    )
    groups: list[StaffGroup] = []
    for member in members:
        if member.department is None:
            continue  # supervisors and directors: their private chat only
        query = select(StaffGroup).where(
            StaffGroup.channel == channel, StaffGroup.department == member.department
        )
        if member.community_id is not None:
            query = query.where(StaffGroup.community_id == member.community_id)
        groups.extend((await session.exec(query.order_by(col(StaffGroup.id)))).all())
    codes = {
        c.id: c.code for c in (await session.exec(select(Community))).all() if c.id is not None
    }
    return StaffDesk(found, members, groups, codes)
