"""Instalment plans (分期) the service desk agrees, and the desk's view of all agreements.

A resident's instalment request (a fee ticket) has "record the plan" on its card (or
`/plan F-…`): a short staff flow asks how many instalments, the first date (then monthly)
and the amounts (an even split by default; they must add up to what is due, net of credit).
The plan is kept with its dates (`FeeAgreement`), the ticket's history notes it, and the
resident and the unit's payers are told the plan in chat. From then on the arrears ladder
reminds by instalment (handlers/arrears.py). `/agreements [unit]` lists what is in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from handlers.arrears_cases import (
    ACTIVE,
    DISPUTE,
    PLAN,
    agreement,
    instalment_lines,
    open_agreements,
    progress,
)
from handlers.cardsync import refreshed_cards
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Money, Recipient, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.directory import closest_units, ticket_resident, unit_by_label
from handlers.fees import joined, local_today, month_text, payer_chats, unit_statement
from handlers.rules import arrears as ladder
from handlers.rules.arrears import ArrearsPolicy, PlanProgress
from handlers.rules.lifecycle import OPEN
from handlers.staffauth import acting_member
from storage import audit, tickets
from storage.models import (
    Community,
    Department,
    FeeAgreement,
    StaffMember,
    Ticket,
    TicketKind,
    Unit,
)

PLAN_FLOW = "fee_plan"
AMOUNT_SEPARATOR = " / "


# ---- recording a plan ----------------------------------------------------------------------


async def _request(ctx: Context, ticket_id: Any) -> tuple[Ticket, Unit, StaffMember] | list[Reply]:
    """The instalment request a desk member may answer now, or why not."""
    ref = row_id(str(ticket_id))
    # Locked: of two desk members recording a plan at once, the second finds the first's.
    ticket = await ctx.session.get(Ticket, ref, with_for_update=True) if ref else None
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket and ticket.unit_id else None
    if (
        ticket is None
        or unit is None
        or ticket.kind != TicketKind.fee
        or ticket.details.get("type") != PLAN
    ):
        return [Reply("dialog.stale")]
    member = acting_member(ctx, ticket.community_id, Department.service)
    if member is None:
        return [Reply("dialog.not_allowed")]
    if ticket.status not in OPEN:
        return [Reply("fee.plan.finished", {"number": ticket.number})]
    if any(a.kind == PLAN for a in await open_agreements(ctx.session, unit.id)):
        return [Reply("fee.plan.exists", {"number": ticket.number, "unit": unit.label})]
    return ticket, unit, member


async def begin_plan(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """`flow:fee_plan:<ticket id>` from the request's card: what is due is split."""
    found = await _request(ctx, initial or "")
    if isinstance(found, list):
        return found
    ticket, unit, _ = found
    statement = await unit_statement(ctx.session, unit, local_today(ctx))
    if statement.net_due <= 0:
        return [Reply("fee.plan.nothing_due", {"number": ticket.number, "unit": unit.label})]
    return {
        "_ticket": ticket.id,
        "_number": ticket.number,
        "_unit": unit.label,
        "_total": str(statement.net_due),
        "_credit": str(statement.credit),
        "_months": [d.month for d in statement.due],
    }


def planned_total(answers: Mapping[str, Any]) -> Decimal:
    """What the plan splits: what was due, net of credit, when the desk began."""
    return Decimal(str(answers["_total"]))


def even_split(answers: Mapping[str, Any]) -> str:
    """The even split of what is due, as the desk would type it."""
    parts = ladder.split_evenly(planned_total(answers), int(answers["count"]))
    return AMOUNT_SEPARATOR.join(str(p) for p in parts)


def planned(answers: Mapping[str, Any]) -> tuple[ladder.Instalment, ...]:
    amounts = [Decimal(a) for a in str(answers["amounts"]).split(AMOUNT_SEPARATOR)]
    return ladder.schedule(date.fromisoformat(answers["first"]), amounts)


async def prompt_params(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "unit": answers["_unit"],
        "total": Money(planned_total(answers)),
        "credit": _credit(answers),
        "count": answers.get("count", ""),
        "max": ArrearsPolicy().max_instalments,
    }


def _credit(answers: Mapping[str, Any]) -> Any:
    credit = Decimal(str(answers.get("_credit", "0")))
    return Text("fee.plan.credit", {"credit": Money(credit)}) if credit > 0 else ""


async def summarize_plan(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    schedule = planned(answers)
    return {
        "number": answers["_number"],
        "unit": answers["_unit"],
        "total": Money(planned_total(answers)),
        "months": joined([month_text(m) for m in answers["_months"]], "fee.join"),
        "credit": _credit(answers),
        "lines": instalment_lines(PlanProgress(schedule, Decimal("0"))),
        "grace": ArrearsPolicy().instalment_grace_days,
    }


async def finish_plan(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """Keep the plan, note it on the ticket, tell the desk and the resident."""
    found = await _request(ctx, answers["_ticket"])
    if isinstance(found, list):
        return found
    ticket, unit, member = found
    statement = await unit_statement(ctx.session, unit, local_today(ctx))
    if statement.net_due != planned_total(answers):  # a payment came in meanwhile
        return [
            Reply("fee.plan.changed", {"number": ticket.number, "total": Money(statement.net_due)})
        ]
    schedule = planned(answers)
    actor = f"staff:{member.id}"
    plan = agreement(
        unit_id=unit.id or 0,
        ticket_id=ticket.id,
        kind=PLAN,
        status=ACTIVE,
        total=statement.net_due,
        months=list(answers["_months"]),
        recorded_by=actor,
        now=ctx.now,
        instalments=schedule,
    )
    ctx.session.add(plan)
    await ctx.session.flush()
    ticket.details = {**ticket.details, "agreement": plan.id}
    detail = {"agreement": plan.id, "instalments": plan.instalments, "total": str(plan.total)}
    await tickets.record_change(
        ctx.session, ticket, actor=actor, action="plan", now=ctx.now, data=detail
    )
    await audit.record(
        ctx.session,
        actor=actor,
        action="fee_plan",
        target=ticket.number,
        detail=detail,
        now=ctx.now,
    )
    told = {
        "number": ticket.number,
        "unit": unit.label,
        "total": Money(plan.total),
        "count": len(schedule),
        "lines": instalment_lines(PlanProgress(schedule, Decimal("0"))),
        "grace": ArrearsPolicy().instalment_grace_days,
    }
    residents = _distinct(
        [*await ticket_resident(ctx.session, ticket), *await payer_chats(ctx.session, unit)]
    )
    return [
        Reply("fee.plan.recorded", {**told, "told": len(residents)}),
        *await refreshed_cards(ctx, ticket),
        *[Reply("fee.plan.resident", told, to=chat) for chat in residents],
    ]


def _distinct(chats: list[Recipient]) -> list[Recipient]:
    seen: dict[tuple[str, str], Recipient] = {}
    for chat in chats:
        seen.setdefault((chat.channel, chat.chat_id), chat)
    return list(seen.values())


async def plan_command(ctx: Context, argument: str) -> list[Reply]:
    """`/plan F-261126-0001`: the button to record the plan of an instalment request."""
    number = argument.strip().upper()
    if not number:
        return [Reply("fee.plan.usage")]
    mine = {m.community_id for m in ctx.staff}
    ticket = next(
        (
            t
            for t in (await ctx.session.exec(select(Ticket).where(Ticket.number == number))).all()
            if None in mine or t.community_id in mine
        ),
        None,
    )
    if ticket is None:
        return [Reply("fee.plan.unknown", {"number": number[:30]})]
    found = await _request(ctx, ticket.id)
    if isinstance(found, list):
        return found
    start = Choice(f"flow:{PLAN_FLOW}:{ticket.id}", "fee.plan.button")
    return [Reply("fee.plan.offer", {"number": ticket.number}, choices=(start,))]


# ---- the desk's view -------------------------------------------------------------------------


async def agreements_command(ctx: Context, argument: str) -> list[Reply]:
    """`/agreements`: what is in force in the sender's communities; `/agreements UNIT`: one
    unit's agreements, past ones too, with their dates and how they ended."""
    mine = {
        m.community_id
        for m in ctx.staff
        if m.active and (m.role in MANAGERS or m.department == Department.service)
    }
    if not mine:
        return [Reply("dialog.not_allowed")]
    communities = [
        c
        for c in (await ctx.session.exec(select(Community).order_by(col(Community.id)))).all()
        if None in mine or c.id in mine
    ]
    label = argument.strip()
    if label:
        return await _unit_view(ctx, communities, label)
    lines: list[Text] = []
    units = (
        await ctx.session.exec(
            select(Unit)
            .join(FeeAgreement, col(FeeAgreement.unit_id) == col(Unit.id))
            .where(
                col(FeeAgreement.closed_at).is_(None),
                col(Unit.community_id).in_([c.id for c in communities]),
            )
            .distinct()
            .order_by(col(Unit.community_id), col(Unit.label))
        )
    ).all()
    for unit in units:
        for found in await open_agreements(ctx.session, unit.id):
            lines.append(await _line(ctx, unit, found))
    if not lines:
        return [Reply("fee.agreements.none")]
    return [Reply("fee.agreements.list", {"count": len(lines), "lines": lines})]


async def units_named(ctx: Context, communities: list[Community], label: str) -> list[Unit] | Reply:
    """The units of `communities` a label as typed names (`2-1-802`), or what to say:
    the closest labels, or that there is no such unit."""
    units = [
        unit
        for c in communities
        if (unit := await unit_by_label(ctx.session, c.id, label)) is not None
    ]
    if units:
        return units
    near = [u.label for c in communities for u in await closest_units(ctx.session, c.id, label)]
    if near:
        return Reply("fee.paid.near", {"unit": label[:50], "near": " / ".join(near)})
    return Reply("fee.paid.no_unit", {"unit": label[:50]})


async def _unit_view(ctx: Context, communities: list[Community], label: str) -> list[Reply]:
    units = await units_named(ctx, communities, label)
    if isinstance(units, Reply):
        return [units]
    lines: list[Text] = []
    for unit in units:
        await open_agreements(ctx.session, unit.id)  # a dispute's ticket may have moved on
        rows = (
            await ctx.session.exec(
                select(FeeAgreement)
                .where(FeeAgreement.unit_id == unit.id)
                .order_by(col(FeeAgreement.id))
            )
        ).all()
        lines += [await _line(ctx, unit, found) for found in rows]
    if not lines:
        return [Reply("fee.agreements.none_for", {"unit": units[0].label})]
    return [Reply("fee.agreements.list", {"count": len(lines), "lines": lines})]


async def _line(ctx: Context, unit: Unit, found: FeeAgreement) -> Text:
    """One agreement for the desk: kind, ticket, unit, dates, and where it stands."""
    ticket = await ctx.session.get(Ticket, found.ticket_id) if found.ticket_id else None
    params: dict[str, Any] = {
        "number": ticket.number if ticket else "-",
        "unit": unit.label,
        "since": found.opened_at,
        "ended": Text("fee.agreements.ended", {"until": found.closed_at})
        if found.closed_at
        else "",
        "status": Text(f"fee.agreement.status.{found.status}"),
        "resolution": Text("fee.agreements.resolution", {"resolution": found.resolution})
        if found.resolution and found.kind == DISPUTE
        else "",
        "total": Money(found.total),
    }
    if found.kind == DISPUTE:
        return Text("fee.agreements.dispute", params)
    done = await progress(ctx.session, found)
    current = done.current if found.closed_at is None else None
    params |= {
        "count": len(found.instalments),
        "paid": Money(min(done.paid, done.total)),
        "next": Text(
            "fee.agreements.next",
            {"n": current.number, "due": current.due, "amount": Money(done.owed(current))},
        )
        if current
        else "",
    }
    return Text("fee.agreements.plan", params)
