"""Rental contracts and their rent (租约与租金): the desk records a contract (`/contract`,
or the page's form), the item becomes let and the rents due are written from the start to
the end every N months; each worker round the rents that have come near or past their day
take their steps (a reminder to the tenant, or the desk asked to phone; the overdue notice;
the supervisor and a follow-up task for the desk), each once and recorded on the due.
Rent is paid with a receipt through the ledger (`/rentpaid`); a contract ended or
terminated (`/rentend`) frees the item and voids the dues still to come."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from handlers import ledger_entries, rentals
from handlers.core.context import Context
from handlers.core.messages import Money, Reply
from handlers.directory import person_chats
from handlers.followups import open_task
from handlers.policies import for_community
from handlers.rules import ledger
from handlers.rules import rentals as rules
from handlers.rules.dates import read_day
from handlers.rules.money import AmountError, read_amount
from handlers.rules.phone import normalise_phone
from storage import audit
from storage.models import Department, Person, Rentable, RentalContract, RentDue

VOID = rules.VOID
BATCH = 200
TASK_DAYS = 2
_MONTHS = re.compile(r"^(\d{1,3})\s*(?:个月|月|months?|m)$", re.IGNORECASE)
_EVERY = re.compile(r"^(?:每|every)?(\d{1,2})\s*(?:个月|月|months?)?(?:一付|付|paid)?$")


def policy_of(settings: Any) -> rules.RentPolicy:
    return rules.RentPolicy(
        remind_days=settings.rent_remind_days, escalate_days=settings.rent_escalate_days
    )


async def policy_for(ctx: Context, community_id: int) -> rules.RentPolicy:
    return policy_of(await for_community(ctx.session, ctx.settings, community_id))


def today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


@dataclass(frozen=True)
class NewContract:
    item: str
    tenant: str
    phone: str
    starts: date
    ends: date
    rent: Decimal | None = None
    every_months: int = 1
    deposit: Decimal | None = None
    note: str = ""


def end_of(typed: str, starts: date, day: date) -> date | None:
    months = _MONTHS.match(typed)
    if months:
        return rules.add_months(starts, int(months[1]), starts.day)
    return read_day(typed, day)


def read_contract(line: str, day: date) -> NewContract | Reply:
    """`B1-12 王老板 13800001111 2026-12-01 6个月 300 每1月 押金600`: the item, the tenant,
    their phone, the start, the end (a date or a number of months), then the rent a
    month, how often it is paid and the deposit (the item's own when left out)."""
    words = line.split()
    if len(words) < 5:
        return Reply("rentals.contract.usage")
    item, tenant, phone, start_word, end_word, *rest = words
    number = normalise_phone(phone)
    if number is None:
        return Reply("rentals.contract.phone", {"word": phone})
    starts = read_day(start_word, day)
    if starts is None:
        return Reply("rentals.contract.date", {"word": start_word})
    ends = end_of(end_word, starts, day)
    if ends is None:
        return Reply("rentals.contract.date", {"word": end_word})
    rent: Decimal | None = None
    deposit: Decimal | None = None
    every = 1
    for word in rest:
        try:
            if word.startswith(("押金", "deposit")):
                deposit = read_amount(word.removeprefix("押金").removeprefix("deposit"), least=None)
            elif _EVERY.match(word) and not word.replace(".", "").isdigit():
                every = int(_EVERY.match(word)[1])  # type: ignore[index]
            elif rent is None:
                rent = read_amount(word)
            else:
                return Reply("rentals.contract.usage")
        except AmountError:
            return Reply("rentals.contract.amount", {"word": word})
    return NewContract(item, tenant, number, starts, ends, rent, every, deposit)


async def _person_by_phone(ctx: Context, phone: str) -> Person | None:
    found = await ctx.session.exec(select(Person).where(Person.phone == phone))
    return found.first()


def contract_params(contract: RentalContract, item: Rentable) -> dict[str, Any]:
    return {
        "contract": contract.id,
        "item": item.name,
        "kind": rentals.kind_text(item.kind),
        "tenant": contract.tenant,
        "phone": contract.phone or "—",
        "starts": contract.starts,
        "ends": contract.ends,
        "rent": Money(contract.rent),
        "every": contract.every_months,
        "deposit": Money(contract.deposit),
    }


async def record_contract(ctx: Context, community_id: int, new: NewContract) -> list[Reply]:
    """A contract recorded by the desk: the item let, the dues written, the tenant told
    when they are a bound person."""
    if rentals.desk_member(ctx, community_id) is None:
        return [Reply("rentals.not_desk")]
    item = await rentals.find_item(ctx, community_id, new.item)
    if item is None:
        return [Reply("rentals.item.unknown", {"item": new.item})]
    if item.kind == rules.VENUE:
        return [Reply("rentals.contract.venue", {"item": item.name})]
    if item.status != "available":
        return [Reply("rentals.contract.taken", {"item": item.name})]
    try:
        days = rules.due_dates(new.starts, new.ends, new.every_months)
    except rules.RentalRuleError as error:
        return [Reply(f"rentals.contract.error.{error.reason}")]
    person = await _person_by_phone(ctx, new.phone) if new.phone else None
    contract = RentalContract(
        community_id=community_id,
        rentable_id=item.id or 0,
        tenant=new.tenant[:100],
        phone=new.phone[:30],
        person_id=person.id if person else None,
        starts=new.starts,
        ends=new.ends,
        rent=new.rent if new.rent is not None else item.rent,
        every_months=new.every_months,
        deposit=new.deposit if new.deposit is not None else item.deposit,
        made_by=ctx.actor,
        made_at=ctx.now,
        note=new.note[:500],
    )
    ctx.session.add(contract)
    await ctx.session.flush()
    for day in days:
        amount = rules.amount_for(contract.rent, contract.every_months, day, contract.ends)
        ctx.session.add(RentDue(contract_id=contract.id or 0, due=day, amount=amount))
    item.status = "let"
    ctx.session.add(item)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="rental_contract",
        target=f"rentable:{item.id}",
        detail={"contract": contract.id, "tenant": contract.tenant, "dues": len(days)},
        now=ctx.now,
    )
    params = contract_params(contract, item) | {"dues": len(days), "first": days[0]}
    replies = [Reply("rentals.contract.recorded", params)]
    if person is not None:
        replies += [
            Reply("rentals.contract.tenant", params, to=chat)
            for chat in await person_chats(ctx.session, person.id)
        ]
    return replies


async def active_contract(ctx: Context, item: Rentable) -> RentalContract | None:
    found = await ctx.session.exec(
        select(RentalContract).where(
            RentalContract.rentable_id == item.id, RentalContract.status == "active"
        )
    )
    return found.first()


async def dues_of(ctx: Context, contract_id: int) -> list[RentDue]:
    rows = await ctx.session.exec(
        select(RentDue).where(RentDue.contract_id == contract_id).order_by(col(RentDue.due))
    )
    return list(rows.all())


def next_unpaid(dues: list[RentDue]) -> RentDue | None:
    return next((d for d in dues if d.paid_at is None and d.step != VOID), None)


async def pay_due(ctx: Context, due: RentDue, receipt: str, method: str = "cash") -> list[Reply]:
    """A rent paid at the desk: one ledger entry (purpose rent) with its receipt."""
    contract = await ctx.session.get(RentalContract, due.contract_id)
    assert contract is not None
    item = await ctx.session.get(Rentable, contract.rentable_id)
    assert item is not None
    if rentals.desk_member(ctx, contract.community_id) is None:
        return [Reply("rentals.not_desk")]
    if due.paid_at is not None:
        return [Reply("rentals.paid.already", {"item": item.name, "due": due.due})]
    if method not in ledger.METHODS:
        return [Reply("rentals.paid.method", {"word": method})]
    entry = await ledger_entries.record(
        ctx,
        community_id=contract.community_id,
        receipt=receipt,
        purpose="rent",
        method=method,
        amount=due.amount,
        payer=contract.tenant,
        source=f"rent_due:{due.id}",
        note=item.name,
    )
    if isinstance(entry, ledger_entries.Refused):
        return [Reply(entry.key, {"receipt": receipt}), Reply("rentals.paid.not_recorded")]
    due.paid_at = ctx.now
    due.receipt = entry.receipt
    ctx.session.add(due)
    params = contract_params(contract, item) | {
        "due": due.due,
        "amount": Money(due.amount),
        "receipt": entry.receipt,
    }
    replies = [Reply("rentals.paid", params)]
    if contract.person_id is not None:
        replies += [
            Reply("rentals.paid.tenant", params, to=chat)
            for chat in await person_chats(ctx.session, contract.person_id)
        ]
    return replies


async def _item_and_contract(ctx: Context, typed: str) -> tuple[Rentable, RentalContract] | Reply:
    community = await rentals.desk_community(ctx)
    if community is None or community.id is None:
        return Reply("rentals.not_desk")
    item = await rentals.find_item(ctx, community.id, typed)
    if item is None:
        return Reply("rentals.item.unknown", {"item": typed})
    contract = await active_contract(ctx, item)
    if contract is None:
        return Reply("rentals.contract.none", {"item": item.name})
    return item, contract


async def rentpaid_command(ctx: Context, argument: str) -> list[Reply]:
    """`/rentpaid B1-12 R20261201 [wechat]`: the item's earliest unpaid rent, paid."""
    words = argument.split()
    if len(words) < 2:
        return [Reply("rentals.paid.usage")]
    found = await _item_and_contract(ctx, words[0])
    if isinstance(found, Reply):
        return [found]
    _, contract = found
    due = next_unpaid(await dues_of(ctx, contract.id or 0))
    if due is None:
        return [Reply("rentals.paid.nothing")]
    return await pay_due(ctx, due, words[1], words[2].lower() if len(words) > 2 else "cash")


async def end_contract(ctx: Context, contract: RentalContract, how: str = "ended") -> list[Reply]:
    """The contract ended (or terminated early): the item free again, the dues after
    today voided; what is already due stays owed."""
    if rentals.desk_member(ctx, contract.community_id) is None:
        return [Reply("rentals.not_desk")]
    item = await ctx.session.get(Rentable, contract.rentable_id)
    assert item is not None
    day = today(ctx)
    contract.status = how
    contract.ended_at = ctx.now
    voided = 0
    for due in await dues_of(ctx, contract.id or 0):
        if due.paid_at is None and due.due > day and due.step != VOID:
            due.step = VOID
            ctx.session.add(due)
            voided += 1
    item.status = "available"
    ctx.session.add_all([contract, item])
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action=f"rental_contract_{how}",
        target=f"rentable:{item.id}",
        detail={"contract": contract.id, "voided": voided},
        now=ctx.now,
    )
    return [Reply("rentals.contract.ended", contract_params(contract, item) | {"voided": voided})]


async def rentend_command(ctx: Context, argument: str) -> list[Reply]:
    """`/rentend B1-12` (or `/rentend B1-12 terminate`)."""
    words = argument.split()
    if not words:
        return [Reply("rentals.end.usage")]
    found = await _item_and_contract(ctx, words[0])
    if isinstance(found, Reply):
        return [found]
    how = "terminated" if len(words) > 1 and words[1].lower() in ("terminate", "解约") else "ended"
    return await end_contract(ctx, found[1], how)


async def contract_command(ctx: Context, argument: str) -> list[Reply]:
    """`/contract <item> <tenant> <phone> <start> <end> [rent] [每N月] [押金…]`."""
    community = await rentals.desk_community(ctx)
    if community is None or community.id is None:
        return [Reply("rentals.not_desk")]
    if not argument.strip():
        return [Reply("rentals.contract.usage")]
    new = read_contract(argument, today(ctx))
    if isinstance(new, Reply):
        return [new]
    return await record_contract(ctx, community.id, new)


# ---- the rent ladder -------------------------------------------------------------------


async def rent_sweep(ctx: Context) -> list[Reply]:
    """Each worker round: every unpaid rent of an active contract that has come near or
    past its day takes the steps that have come, each once, recorded on the due."""
    day = today(ctx)
    query = (
        select(RentDue, RentalContract)
        .join(RentalContract, col(RentalContract.id) == col(RentDue.contract_id))
        .where(
            col(RentDue.paid_at).is_(None),
            col(RentDue.step).not_in((rules.SUPERVISOR, VOID)),
            RentalContract.status == "active",
            col(RentDue.due) <= day + timedelta(days=60),
        )
        .order_by(col(RentDue.due), col(RentDue.id))
        .limit(BATCH)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=RentDue, skip_locked=True)  # type: ignore[arg-type]
    replies: list[Reply] = []
    for due, contract in (await ctx.session.exec(query)).all():
        policy = await policy_for(ctx, contract.community_id)
        steps = rules.rent_steps(due.due, day, due.step, policy)
        if not steps:
            continue
        item = await ctx.session.get(Rentable, contract.rentable_id)
        assert item is not None
        params = contract_params(contract, item) | {
            "due": due.due,
            "amount": Money(due.amount),
            "late": rules.days_late(due.due, day),
        }
        tenant = await person_chats(ctx.session, contract.person_id)
        desk = await rentals.desk_chats(ctx, contract.community_id)
        for step in steps:
            replies += await _step(ctx, step, due, contract, params, tenant, desk)
            due.step = step
        if rules.REMINDED in steps:
            due.reminded_at = ctx.now
        ctx.session.add(due)
    return replies


async def _step(
    ctx: Context,
    step: str,
    due: RentDue,
    contract: RentalContract,
    params: dict[str, Any],
    tenant: list[Any],
    desk: list[Any],
) -> list[Reply]:
    key = f"rent:{due.id}:{step}"
    if step == rules.REMINDED:
        if tenant:
            return [
                Reply("rentals.remind.tenant", params, to=c, dedupe_key=f"{key}:{i}")
                for i, c in enumerate(tenant)
            ]
        return [
            Reply("rentals.remind.desk_phone", params, to=c, dedupe_key=f"{key}:d{i}")
            for i, c in enumerate(desk)
        ]
    if step == rules.OVERDUE:
        told = [
            Reply("rentals.overdue.tenant", params, to=c, dedupe_key=f"{key}:{i}")
            for i, c in enumerate(tenant)
        ]
        words = "rentals.overdue.desk" if tenant else "rentals.overdue.desk_phone"
        return [
            *told,
            *[Reply(words, params, to=c, dedupe_key=f"{key}:d{i}") for i, c in enumerate(desk)],
        ]
    managers = await rentals.managers_chats(ctx, contract.community_id)
    told = [
        Reply("rentals.overdue.supervisor", params, to=c, dedupe_key=f"{key}:{i}")
        for i, c in enumerate(managers)
    ]
    locale = ctx.settings.default_locale
    description = ctx.catalogs.text(
        locale,
        "rentals.task.description",
        {k: ctx.catalogs.format(locale, v) for k, v in params.items()},
    )
    _, cards = await open_task(
        ctx,
        community_id=contract.community_id,
        department=Department.service,
        description=description,
        due_at=ctx.now + timedelta(days=TASK_DAYS),
        details={"rent_due": due.id},
        contact_name=contract.tenant,
        contact_phone=contract.phone,
    )
    await audit.record(
        ctx.session,
        actor="system",
        action="rent_escalated",
        target=f"rent_due:{due.id}",
        detail={"contract": contract.id},
        now=ctx.now,
    )
    return [*told, *cards]
