"""The move-in's checklist the desk works through: forms signed and items handed over (ticked),
the household registration (its members become people bound to the unit), the fees
collected with their receipts, the keys; and how what the desk types for them is read.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlmodel import select

from handlers.core.context import Context
from handlers.core.messages import Reply, Text
from handlers.fees import record_payment
from handlers.movein import card
from handlers.movein_actions import (
    TICKABLE,
    Tick,
)
from handlers.movein_record import (
    audited,
    mark,
    open_one,
)
from handlers.rules.fees import normalise_receipt
from handlers.rules.money import AmountError, read_amount
from handlers.rules.phone import normalise_phone
from storage.models import (
    Binding,
    MoveIn,
    Person,
    Role,
    Unit,
)


async def tick(ctx: Context, action: Tick) -> list[Reply]:
    found = await open_one(ctx, action.move_in)
    if isinstance(found, Reply):
        return [found]
    if action.item not in TICKABLE:
        return [Reply("movein.stale")]
    key = action.item.replace("_", ".", 1)
    mark(found, key, ctx.actor, ctx.now)
    ctx.session.add(found)
    await audited(ctx, found, "tick", item=key)
    return [await card(ctx, found)]


_MEMBER = re.compile(r"^\s*(?P<name>[^\d\s,，;；]{1,30})\s*(?P<phone>[+\d][\d\s-]{6,20})?\s*$")


def parse_household(text: str) -> list[tuple[str, str | None]]:
    """`李四 13900000001；王五` → members with their phones (one a line, or split by ；)."""
    members: list[tuple[str, str | None]] = []
    for part in re.split(r"[\n;；,，、]+", text):
        if not part.strip():
            continue
        found = _MEMBER.match(part)
        if found is None:
            raise ValueError(part.strip())
        phone = found.group("phone")
        members.append((found.group("name"), normalise_phone(phone) if phone else None))
    return members


async def register_household(
    ctx: Context, move_in: MoveIn, members: list[tuple[str, str | None]]
) -> list[Person]:
    """The household registration (住户登记表): each member becomes a person bound to the
    unit as a household member (the same person when their phone is on record)."""
    people: list[Person] = []
    for name, phone in members:
        person = None
        if phone:
            person = (await ctx.session.exec(select(Person).where(Person.phone == phone))).first()
        if person is None:
            person = Person(name=name[:100], phone=phone, created_at=ctx.now)
            ctx.session.add(person)
            await ctx.session.flush()
        assert person.id is not None
        bound = (
            await ctx.session.exec(
                select(Binding).where(
                    Binding.person_id == person.id, Binding.unit_id == move_in.unit_id
                )
            )
        ).first()
        if bound is None:
            ctx.session.add(
                Binding(
                    person_id=person.id,
                    unit_id=move_in.unit_id,
                    role=Role.member,
                    verified_by=ctx.actor[:50],
                    created_at=ctx.now,
                )
            )
        people.append(person)
    mark(
        move_in,
        "form.household",
        ctx.actor,
        ctx.now,
        members=[p.id for p in people],
    )
    ctx.session.add(move_in)
    await ctx.session.flush()
    return people


async def collect_fee(
    ctx: Context, move_in: MoveIn, amount: Decimal, receipt: str
) -> list[Reply] | str:
    """Fees collected at handover, recorded as a payment with its receipt number; the
    refusal's key when the receipt was used before."""
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    outcome = await record_payment(
        ctx.session,
        unit=unit,
        amount=amount,
        receipt=receipt,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
    )
    if outcome.refusal is not None:
        return outcome.refusal
    paid = list(move_in.checklist.get("fees", {}).get("payments", []))
    paid.append({"amount": str(amount), "receipt": receipt})
    mark(move_in, "fees", ctx.actor, ctx.now, payments=paid)
    ctx.session.add(move_in)
    return outcome.notices


def keys_handed(ctx: Context, move_in: MoveIn, count: int, which: str) -> None:
    mark(move_in, "item.keys", ctx.actor, ctx.now, count=count, which=which)


# ---- what the desk types (the chat flows and the page read it alike) ------------------------

FEE_MOST = Decimal(1_000_000)


def read_fee_amount(text: str) -> Decimal | Text:
    """An amount collected, as the fee flow reads it; or why not."""
    try:
        return read_amount(text.strip()[:20], most=FEE_MOST)
    except AmountError as why:
        return Text("movein.fee.bad_amount", {"value": why.text})


def read_receipt(text: str) -> str | Text:
    found = normalise_receipt(text)
    return found if found is not None else Text("fee.paid.bad_receipt", {"value": text[:50]})


def read_fee(amount: str, receipt: str) -> tuple[Decimal, str] | Text:
    """The amount and the receipt number; the first problem if any."""
    value, number = read_fee_amount(amount), read_receipt(receipt)
    if isinstance(value, Text):
        return value
    if isinstance(number, Text):
        return number
    return value, number


def read_key_count(text: str) -> int | Text:
    cleaned = text.strip()[:10].rstrip("把套个 ")
    if not cleaned.isdigit() or not 1 <= int(cleaned) <= 50:
        return Text("movein.keys.bad_count", {"value": text[:10]})
    return int(cleaned)


def read_household(text: str) -> list[tuple[str, str | None]] | Text:
    cleaned = text.strip()[:500]
    if cleaned.lower() in ("无", "没有", "none", "-"):
        return []
    try:
        return parse_household(cleaned)
    except ValueError as error:
        return Text("movein.household.error", {"value": str(error)[:30]})
