"""What the office lets (招租): the register of advertising spaces, storerooms and venues
(`Rentable`), `/rentals` to list them and `/rentals add …` for the desk to add one.

Who may change the register: the community's service desk and its managers; anyone may
list what is available (a resident or an outsider asking what there is to rent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from handlers.core.context import Context
from handlers.core.messages import Money, Recipient, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.directory import community_of, department_chats, people_with_role
from handlers.rules import rentals as rules
from handlers.rules.money import AmountError, read_amount
from handlers.staffauth import acting_member
from storage import audit
from storage.models import Community, Department, Rentable, StaffMember

STATUSES = ("available", "let", "closed")
KIND_WORDS = {kind: f"rentals.words.{kind}" for kind in rules.KINDS}
_SIZE = re.compile(r"(㎡|m2|平方|平米|×|x\d|\d+m$)", re.IGNORECASE)
_DEPOSIT = re.compile(r"^(?:押金|deposit[:=]?)(.+)$", re.IGNORECASE)


# ---- who and where ---------------------------------------------------------------------


def desk_member(ctx: Context, community_id: int) -> StaffMember | None:
    """The sender as the community's service desk or a manager: who lets things."""
    return acting_member(ctx, community_id, Department.service)


def desk_scopes(ctx: Context) -> list[int | None]:
    """The communities whose lettings the sender runs (None: every one)."""
    found = {
        m.community_id
        for m in ctx.staff
        if m.active and (m.role in MANAGERS or m.department == Department.service)
    }
    return sorted(found, key=lambda c: (c is None, c or 0))


async def desk_community(ctx: Context) -> Community | None:
    """The community the desk means: its own, or (company-wide) the first one."""
    for scope in desk_scopes(ctx):
        if scope is not None:
            return await ctx.session.get(Community, scope)
    if desk_scopes(ctx):
        return await community_of(ctx)
    return None


async def desk_chats(ctx: Context, community_id: int) -> list[Recipient]:
    chats = await department_chats(ctx.session, community_id, Department.service)
    return chats or await people_with_role(ctx.session, community_id, "supervisor")


async def managers_chats(ctx: Context, community_id: int) -> list[Recipient]:
    chats = await people_with_role(ctx.session, community_id, "supervisor")
    return chats or await people_with_role(ctx.session, community_id, "director")


# ---- the register ----------------------------------------------------------------------


def kind_text(kind: str) -> Text:
    return Text(f"rentals.kind.{kind}")


def rent_text(item: Rentable) -> Text:
    per = "hour" if item.period == "hour" else "month"
    return Text(f"rentals.rent.{per}", {"rent": Money(item.rent)})


def item_params(item: Rentable) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": kind_text(item.kind),
        "name": item.name,
        "place": item.place or "—",
        "size": item.size or "—",
        "rent": rent_text(item),
        "deposit": Money(item.deposit),
        "status": Text(f"rentals.status.{item.status}"),
        "terms": item.terms or "—",
    }


async def items_of(
    ctx: Context, community_id: int, *, kind: str = "", status: str = ""
) -> list[Rentable]:
    query = select(Rentable).where(Rentable.community_id == community_id)
    if kind:
        query = query.where(Rentable.kind == kind)
    if status:
        query = query.where(Rentable.status == status)
    rows = await ctx.session.exec(query.order_by(col(Rentable.kind), col(Rentable.id)))
    return list(rows.all())


async def find_item(ctx: Context, community_id: int, typed: str) -> Rentable | None:
    """The item by its number (`#3`, `3`) or its name, as typed (spaces ignored)."""
    typed = typed.strip().lstrip("#")
    items = await items_of(ctx, community_id)
    if typed.isdigit():
        return next((i for i in items if i.id == int(typed)), None)
    squeezed = "".join(typed.split()).lower()
    exact = [i for i in items if "".join(i.name.split()).lower() == squeezed]
    if exact:
        return exact[0]
    partly = [i for i in items if squeezed and squeezed in "".join(i.name.split()).lower()]
    return partly[0] if len(partly) == 1 else None


def kind_in(ctx: Context, word: str) -> str | None:
    low = word.strip().lower()
    for kind, key in KIND_WORDS.items():
        if low in ctx.catalogs.words(key):
            return kind
    return None


def kind_mentioned(ctx: Context, text: str) -> str | None:
    """The kind a sentence names (`想租个储藏室放杂物` → storeroom), if one does."""
    low = text.lower()
    for kind, key in KIND_WORDS.items():
        if any(len(word) > 1 and word in low for word in ctx.catalogs.words(key)):
            return kind
    return None


@dataclass(frozen=True)
class NewItem:
    kind: str
    name: str
    rent: Decimal
    deposit: Decimal = Decimal("0")
    place: str = ""
    size: str = ""
    terms: str = ""


def read_new_item(ctx: Context, line: str) -> NewItem | Reply:
    """`储藏室 B1-12 300 押金600 地下一层 12㎡`: kind, name, rent (a month; an hour for a
    venue), then in any order the deposit, the size and the place."""
    words = line.split()
    if len(words) < 3:
        return Reply("rentals.add.usage")
    kind = kind_in(ctx, words[0])
    if kind is None:
        return Reply("rentals.add.kind", {"word": words[0]})
    try:
        rent = read_amount(words[2])
    except AmountError:
        return Reply("rentals.add.rent", {"word": words[2]})
    deposit = Decimal("0")
    place: list[str] = []
    size = ""
    for word in words[3:]:
        found = _DEPOSIT.match(word)
        if found:
            try:
                deposit = read_amount(found[1], least=Decimal(0))
            except AmountError:
                return Reply("rentals.add.deposit", {"word": word})
        elif _SIZE.search(word) and not size:
            size = word
        else:
            place.append(word)
    return NewItem(kind, words[1], rent, deposit, " ".join(place), size)


async def add_item(ctx: Context, community_id: int, new: NewItem) -> tuple[Rentable | None, Reply]:
    """An item added to the register by the desk or a manager."""
    member = desk_member(ctx, community_id)
    if member is None:
        return None, Reply("rentals.not_desk")
    if new.kind not in rules.KINDS or not new.name.strip() or new.rent <= 0:
        return None, Reply("rentals.add.usage")
    taken = await find_item(ctx, community_id, new.name)
    if taken is not None and taken.name == new.name.strip():
        return None, Reply("rentals.add.exists", {"name": new.name})
    item = Rentable(
        community_id=community_id,
        kind=new.kind,
        name=new.name.strip()[:100],
        place=new.place[:200],
        size=new.size[:40],
        terms=new.terms[:1000],
        rent=new.rent,
        period="hour" if new.kind == rules.VENUE else "month",
        deposit=new.deposit,
    )
    ctx.session.add(item)
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="rentable_add",
        target=f"rentable:{item.id}",
        detail={"kind": item.kind, "name": item.name, "rent": str(item.rent)},
        now=ctx.now,
    )
    return item, Reply("rentals.added", item_params(item))


def listing(items: list[Rentable], *, staff: bool) -> Reply:
    if not items:
        return Reply("rentals.list.empty")
    lines = [
        Text("rentals.list.line" if staff else "rentals.list.line_public", item_params(i))
        for i in items
    ]
    return Reply("rentals.list", {"count": len(items), "lines": lines})


async def rentals_command(ctx: Context, argument: str) -> list[Reply]:
    """`/rentals`: what there is to let (the desk sees all with the status);
    `/rentals add <kind> <name> <rent> [押金…] [place] [size]` adds one."""
    verb, _, rest = argument.strip().partition(" ")
    if verb.lower() in ("add", "添加", "新增"):
        community = await desk_community(ctx)
        if community is None or community.id is None:
            return [Reply("rentals.not_desk")]
        new = read_new_item(ctx, rest)
        if isinstance(new, Reply):
            return [new]
        _, reply = await add_item(ctx, community.id, new)
        return [reply]
    community = await desk_community(ctx)
    if community is not None and community.id is not None:
        return [listing(await items_of(ctx, community.id), staff=True)]
    community = await community_of(ctx)
    if community is None or community.id is None:
        return [Reply("rentals.list.empty")]
    return [
        listing(await items_of(ctx, community.id, status="available"), staff=False),
        Reply("rentals.list.ask"),
    ]
