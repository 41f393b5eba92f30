"""The key register (钥匙登记): which keys the office holds — flats' keys (custody's, an
owner's spare), common rooms', equipment's —, where each hangs, who has it now and since
when; what chat's `/keys` and `/mykeys` and the desk's page show.

Who sees and does what: the community's service desk and its managers keep the register
(add keys, lend and take them back: handlers/key_loans.py); the security staff may list it
(the night guard must know where the plant room's key is, and who has it) but not lend; an
owner sees their own unit's keys only; nobody else sees any. Every movement is kept in the
key's `history` with who and when.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Reply, Text
from handlers.directory import bound_units, normalise_label, unit_by_label
from handlers.policies import for_community
from handlers.rules import keys as rules
from handlers.staffauth import acting_member
from storage import audit
from storage.models import (
    Binding,
    Community,
    Department,
    KeyLoan,
    OfficeKey,
    Person,
    Role,
    StaffMember,
    Unit,
)

STATES = ("held", "out", "overdue", "returned")
# `/keys 逾期`, `/keys out`: the register narrowed to one state.
STATE_WORDS = {"逾期": "overdue", "overdue": "overdue", "借出": "out", "out": "out"}
STATE_WORDS |= {"在库": "held", "held": "held"}
LIST_BUTTONS = 8  # "given back" buttons under `/keys`, for the keys out longest


@dataclass(frozen=True)
class KeyBack(Action):
    """A loan's "given back" button (on the loan card, and under `/keys`)."""

    name: ClassVar[str] = "key_back"
    loan: int


# ---- who may ---------------------------------------------------------------------------


def keeper(ctx: Context, community_id: int) -> StaffMember | None:
    """Who keeps the register and lends: the community's service desk, or a manager."""
    return acting_member(ctx, community_id, Department.service)


def viewer(ctx: Context, community_id: int) -> StaffMember | None:
    """Who may list the register: the keepers, and the community's security staff."""
    return keeper(ctx, community_id) or acting_member(ctx, community_id, Department.security)


async def communities_where(
    ctx: Context, may: Callable[[Context, int], StaffMember | None]
) -> list[Community]:
    """The communities where the sender may (list, or keep) the register."""
    if not ctx.staff:
        return []
    rows = (await ctx.session.exec(select(Community).order_by(col(Community.id)))).all()
    return [c for c in rows if c.id is not None and may(ctx, c.id) is not None]


async def policy_for(ctx: Context, community_id: int) -> rules.KeyPolicy:
    settings = await for_community(ctx.session, ctx.settings, community_id)
    return rules.KeyPolicy(
        loan_hours=settings.key_loan_hours, escalate_hours=settings.key_escalate_hours
    )


def record(key: OfficeKey, ctx: Context, event: str, **data: Any) -> None:
    """One movement of a key, with who and when, in its history."""
    entry = {"at": ctx.now.isoformat(), "by": ctx.actor, "event": event, **data}
    key.history = [*key.history, entry]
    ctx.session.add(key)


# ---- looking keys up --------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A key of the register as the lists show it: where it is, and its open loan."""

    key: OfficeKey
    unit: Unit | None
    loan: KeyLoan | None
    overdue: bool

    @property
    def state(self) -> str:
        if self.key.status == rules.RETURNED:
            return "returned"
        if self.loan is not None:
            return "overdue" if self.overdue else "out"
        return "held"


async def open_loan(session: AsyncSession, key_id: int | None) -> KeyLoan | None:
    rows = await session.exec(
        select(KeyLoan).where(KeyLoan.key_id == key_id, col(KeyLoan.returned_at).is_(None))
    )
    return rows.first()


async def entries(
    ctx: Context, community_id: int, *, kind: str = "", state: str = ""
) -> list[Entry]:
    """The community's keys, overdue first, then those out, then those held (given back
    to their owners only when asked for); by kind and state when asked."""
    query = select(OfficeKey, Unit).outerjoin(Unit, col(Unit.id) == col(OfficeKey.unit_id))
    query = query.where(OfficeKey.community_id == community_id)
    if kind in rules.KINDS:
        query = query.where(OfficeKey.kind == kind)
    if state != "returned":
        query = query.where(OfficeKey.status != rules.RETURNED)
    rows = (await ctx.session.exec(query.order_by(col(OfficeKey.id)))).all()
    loans = {
        loan.key_id: loan
        for loan in (
            await ctx.session.exec(
                select(KeyLoan).where(
                    KeyLoan.community_id == community_id, col(KeyLoan.returned_at).is_(None)
                )
            )
        ).all()
    }
    found = []
    for key, unit in rows:
        loan = loans.get(key.id or 0)
        overdue = loan is not None and rules.is_overdue(loan.due_at, ctx.now)
        found.append(Entry(key, unit, loan, overdue))
    if state in STATES:
        found = [e for e in found if e.state == state]
    order = {"overdue": 0, "out": 1, "held": 2, "returned": 3}
    return sorted(found, key=lambda e: (order[e.state], e.key.place or "~", e.key.id or 0))


class NotFound(LookupError):
    """A key reference that names no key, or several; `reply` says so."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.key)
        self.reply = reply


async def find_key(ctx: Context, ref: str, community_ids: list[int]) -> OfficeKey:
    """The key a desk typed: its number (`12`, `#12`), its place (`柜A-12`), its label
    (`天台门钥匙`) or its unit (`2-1-802`, when the office holds one key of the flat).
    Only keys of `community_ids` still in the register; raises `NotFound`."""
    ref = ref.strip()[:60]
    if not ref or not community_ids:
        raise NotFound(Reply("keys.error.key_unknown", {"ref": ref}))
    in_register = (
        col(OfficeKey.community_id).in_(community_ids),
        OfficeKey.status != rules.RETURNED,
    )
    number = rules.key_number(ref)
    if number is not None and row_id(str(number)) is not None:
        key = await ctx.session.get(OfficeKey, number)
        if key is not None and key.community_id in community_ids and key.status != "returned":
            return key
    typed = normalise_label(ref).upper()
    rows = (await ctx.session.exec(select(OfficeKey).where(*in_register))).all()
    for column in ("place", "label"):
        found = [k for k in rows if normalise_label(str(getattr(k, column))).upper() == typed]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise NotFound(_several(ref, found))
    for community_id in community_ids:
        unit = await unit_by_label(ctx.session, community_id, ref)
        if unit is None:
            continue
        rows = (
            await ctx.session.exec(
                select(OfficeKey).where(*in_register, OfficeKey.unit_id == unit.id)
            )
        ).all()
        held = [k for k in rows if k.status == rules.HELD] or list(rows)
        if len(held) == 1:
            return held[0]
        if len(held) > 1:
            raise NotFound(_several(ref, held))
    raise NotFound(Reply("keys.error.key_unknown", {"ref": ref}))


def _several(ref: str, found: list[OfficeKey]) -> Reply:
    lines = [
        Text("keys.line.short", {"id": k.id, "label": k.label, "place": place(k)}) for k in found
    ]
    return Reply("keys.error.several", {"ref": ref, "keys": lines})


def place(key: OfficeKey) -> Any:
    return key.place or Text("keys.place.none")


# ---- what `/keys` says -------------------------------------------------------------------


def line(entry: Entry) -> Text:
    """One key as chat lists it."""
    key = entry.key
    params: dict[str, Any] = {
        "id": key.id,
        "label": key.label,
        "count": key.count,
        "kind": Text(f"keys.kind.{key.kind}"),
        "place": place(key),
        "unit": entry.unit.label if entry.unit else "",
    }
    if entry.loan is not None:
        params |= {
            "borrower": entry.loan.borrower,
            "since": entry.loan.lent_at,
            "due": entry.loan.due_at,
        }
    return Text(f"keys.line.{entry.state}", params)


async def keys_command(ctx: Context, argument: str) -> list[Reply]:
    """`/keys`: the register of the sender's communities (the desk, managers, security);
    `/keys 逾期` (借出, 在库) those in one state; `/keys 柜A-12` one key's card; `/keys add …`
    adds a key (the desk, managers). Anybody else is refused (an owner has `/mykeys`)."""
    words = argument.strip()
    head, _, rest = words.partition(" ")
    if head.lower() in ("add", "新增", "添加", "登记"):
        return await add_command(ctx, rest)
    if not ctx.staff:
        return await owner_keys(ctx) or [Reply("keys.mine.none")]
    shown = await communities_where(ctx, viewer)
    if not shown:
        return [Reply("dialog.not_allowed")]
    state = STATE_WORDS.get(words.lower(), "")
    if words and not state:
        try:
            key = await find_key(ctx, words, [c.id for c in shown if c.id is not None])
        except NotFound as missing:
            return [missing.reply]
        return [await history_reply(ctx, key)]
    replies = []
    for community in shown:
        assert community.id is not None
        listed = await entries(ctx, community.id, state=state)
        if not listed:
            replies.append(Reply("keys.list.none", {"community": community.name}))
            continue
        counts = {s: len([e for e in listed if e.state == s]) for s in ("held", "out", "overdue")}
        buttons = [
            KeyBack(e.loan.id or 0).choice("keys.btn.back_one", id=e.key.id, label=e.key.label)
            for e in listed
            if e.loan is not None and keeper(ctx, community.id)
        ]
        replies.append(
            Reply(
                "keys.list",
                {"community": community.name, **counts, "lines": [line(e) for e in listed]},
                choices=tuple(buttons[:LIST_BUTTONS]),
            )
        )
    return replies


async def history_reply(ctx: Context, key: OfficeKey) -> Reply:
    """One key's card: where it is and its movements, latest last."""
    unit = await ctx.session.get(Unit, key.unit_id) if key.unit_id else None
    loan = await open_loan(ctx.session, key.id)
    entry = Entry(key, unit, loan, loan is not None and rules.is_overdue(loan.due_at, ctx.now))
    moves = [
        Text(
            "keys.history.line",
            {
                "at": when_of(e.get("at")),
                "event": Text(f"keys.event.{e.get('event', 'added')}"),
                "who": e.get("borrower") or e.get("to") or "",
            },
        )
        for e in key.history[-10:]
    ]
    return Reply("keys.card", {"line": line(entry), "moves": moves or Text("keys.history.none")})


def when_of(value: Any) -> Any:
    """A time kept in a history entry (ISO text) as a time to show."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


# ---- adding keys -------------------------------------------------------------------------


async def add_command(ctx: Context, text: str) -> list[Reply]:
    """`/keys add 天台门钥匙 公共 柜A-12 2把`, `/keys add 2-1-802 备用钥匙 柜B-3`."""
    kept = await communities_where(ctx, keeper)
    if not kept:
        return [Reply("dialog.not_allowed")]
    if not text.strip():
        return [Reply("keys.add.usage")]
    try:
        new = rules.parse_new_key(text)
    except rules.KeyRuleError as error:
        return [Reply(f"keys.error.{error.reason}"), Reply("keys.add.usage")]
    return await add_key(ctx, kept[0].id if len(kept) == 1 else None, new)


async def add_key(ctx: Context, community_id: int | None, new: rules.NewKey) -> list[Reply]:
    """A key taken into the register (by the desk or a manager of its community). A unit's
    key is found by its unit, in the sender's communities when none is given."""
    unit: Unit | None = None
    if new.kind == "unit":
        for community in await communities_where(ctx, keeper):
            if community_id not in (None, community.id):
                continue
            unit = await unit_by_label(ctx.session, community.id, new.unit)
            if unit is not None:
                break
        if unit is None:
            return [Reply("keys.error.unit_unknown", {"unit": new.unit})]
        community_id = unit.community_id
    if community_id is None:
        kept = await communities_where(ctx, keeper)
        if len(kept) != 1:
            return [Reply("keys.error.which_community")]
        community_id = kept[0].id
    if community_id is None or keeper(ctx, community_id) is None:
        return [Reply("dialog.not_allowed")]
    if new.kind not in rules.KINDS:
        return [Reply("keys.error.add_kind")]
    key = OfficeKey(
        community_id=community_id,
        unit_id=unit.id if unit else None,
        label=new.label,
        kind=new.kind,
        place=new.place,
        count=new.count,
        source="office",
        received_at=ctx.now,
    )
    ctx.session.add(key)
    await ctx.session.flush()
    record(key, ctx, "added", place=new.place)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="key_added",
        target=f"key:{key.id}",
        detail={"label": key.label, "kind": key.kind, "place": key.place},
        now=ctx.now,
    )
    return [
        Reply(
            "keys.added",
            {
                "id": key.id,
                "label": key.label,
                "count": key.count,
                "kind": Text(f"keys.kind.{key.kind}"),
                "place": place(key),
                "unit": unit.label if unit else "",
            },
        )
    ]


# ---- an owner's keys ----------------------------------------------------------------------


async def owned_units(session: AsyncSession, person_id: int | None) -> list[Unit]:
    return [u for u, b in await bound_units(session, person_id) if b.role == Role.owner]


async def owners_of(session: AsyncSession, unit_id: int | None) -> list[Person]:
    rows = await session.exec(
        select(Person)
        .join(Binding, col(Binding.person_id) == col(Person.id))
        .where(Binding.unit_id == unit_id, Binding.role == Role.owner)
        .order_by(col(Binding.id))
    )
    return list(rows.all())


async def owner_keys(ctx: Context) -> list[Reply]:
    """An owner's units' keys the office holds, each with its loan if out (`/mykeys`, and
    under `/my`); nothing when the office holds none of theirs."""
    if ctx.person is None:
        return []
    units = await owned_units(ctx.session, ctx.person.id)
    lines: list[Any] = []
    for unit in units:
        rows = (
            await ctx.session.exec(
                select(OfficeKey)
                .where(OfficeKey.unit_id == unit.id, OfficeKey.status != rules.RETURNED)
                .order_by(col(OfficeKey.id))
            )
        ).all()
        for key in rows:
            loan = await open_loan(ctx.session, key.id)
            state = "out" if loan else "held"
            params: dict[str, Any] = {"unit": unit.label, "label": key.label, "count": key.count}
            if loan is not None:
                params |= {"borrower": loan.borrower, "purpose": loan.purpose or "—"}
                params |= {"since": loan.lent_at, "due": loan.due_at}
            lines.append(Text(f"keys.mine.{state}", params))
    if not lines:
        return []
    return [Reply("keys.mine", {"lines": lines})]


async def mykeys_command(ctx: Context, argument: str) -> list[Reply]:
    return await owner_keys(ctx) or [Reply("keys.mine.none")]


# ---- the desk's page -------------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityKeys:
    community: Community
    entries: list[Entry]
    keeps: bool  # may add, lend and take back (not only list)


async def page_register(ctx: Context, kind: str = "", state: str = "") -> list[CommunityKeys]:
    found = []
    for community in await communities_where(ctx, viewer):
        assert community.id is not None
        found.append(
            CommunityKeys(
                community,
                await entries(ctx, community.id, kind=kind, state=state),
                keeper(ctx, community.id) is not None,
            )
        )
    return found


@dataclass(frozen=True)
class KeyView:
    entry: Entry
    loans: list[KeyLoan]
    owners: list[Person]
    keeps: bool
    staff: list[StaffMember]  # whom it may be lent to among the community's staff


async def key_page(ctx: Context, key_id: int) -> KeyView | None:
    """One key with its loans, for those who may list its community's register."""
    key = await ctx.session.get(OfficeKey, key_id)
    if key is None or viewer(ctx, key.community_id) is None:
        return None
    unit = await ctx.session.get(Unit, key.unit_id) if key.unit_id else None
    loan = await open_loan(ctx.session, key.id)
    loans = (
        await ctx.session.exec(
            select(KeyLoan).where(KeyLoan.key_id == key.id).order_by(col(KeyLoan.id).desc())
        )
    ).all()
    return KeyView(
        Entry(key, unit, loan, loan is not None and rules.is_overdue(loan.due_at, ctx.now)),
        list(loans),
        await owners_of(ctx.session, key.unit_id) if key.unit_id else [],
        keeper(ctx, key.community_id) is not None,
        await community_staff(ctx.session, key.community_id),
    )


async def community_staff(session: AsyncSession, community_id: int) -> list[StaffMember]:
    """The community's active staff, one record per name (a chat's before a web login's):
    those a key may be lent to by name."""
    rows = (
        await session.exec(
            select(StaffMember)
            .where(StaffMember.community_id == community_id, col(StaffMember.active).is_(True))
            .order_by(col(StaffMember.id))
        )
    ).all()
    chosen: dict[str, StaffMember] = {}
    for member in rows:
        if member.name not in chosen or chosen[member.name].channel == "web":
            chosen[member.name] = member
    return list(chosen.values())
