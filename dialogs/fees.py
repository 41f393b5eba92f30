"""Fees and arrears (物业费查询): the statement, the requests after it, and `/paid`.

`fees` answers with the statement at once (see handlers/fees.py). Its choices start
`fee_request` (dispute an amount / pay in instalments: what and why) and `fee_visit`
(a door-to-door collection appointment, prefilled from the statement); neither is in
the menu. The service desk records the instalment plan it agreed with `fee_plan` (from
the request's card, or `/plan F-…`), lists agreements with `/agreements [unit]`, and
records payments with `/paid <unit> <amount> <receipt>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, chosen
from handlers import fee_agreements, fees
from handlers.core.context import Context
from handlers.core.ids import number
from handlers.core.messages import Choice, Money, Reply
from handlers.core.roles import STAFF_ROLES
from handlers.rules.arrears import ArrearsPolicy, first_day_allowed, proposed_first_day
from handlers.rules.fees import parse_amount, parse_amounts, parse_day


async def unit_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return [
        Choice(f"unit:{unit.id}", "fee.unit.option", {"unit": unit.label})
        for unit in await fees.units_for(ctx)
    ]


def request_kind(answer: Answer, ctx: Context, answers: Answers) -> str:
    option = answer.option or ""
    if option not in fees.REQUESTS:
        raise InputError("dialog.error.choose")
    return option


def amount(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = parsers.short_text(answer, ctx, answers)
    value = parse_amount(text)
    if value is None:
        raise InputError("fee.error.amount", value=text[:20])
    return str(value)


async def _name(ctx: Context, answers: Answers) -> Any:
    return ctx.person.name if ctx.person else None


async def _phone(ctx: Context, answers: Answers) -> Any:
    return ctx.person.phone if ctx.person else None


async def _due(ctx: Context, answers: Answers) -> Any:
    due = await fees.total_due(ctx, answers)
    return str(due) if due > 0 else None


def _kind_is(kind: str) -> Any:
    return lambda answers: answers.get("kind") == kind


UNIT = Step("unit", "fee.unit.prompt", parse=chosen, choices=unit_choices)


async def _nothing_to_confirm(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {}


async def _statement(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    shown = await fees.show(ctx, None)
    return shown if isinstance(shown, list) else []


# The statement is not a form: `show` always answers at once, so this flow has no steps
# and its summary is never reached.
FEES = Flow(
    name="fees",
    title="fee.title",
    steps=(),
    summary="fee.title",
    summarize=_nothing_to_confirm,
    finish=_statement,
    start=fees.show,
)

FEE_REQUEST = Flow(
    name="fee_request",
    title="fee.request.title",
    steps=(
        UNIT,
        Step(
            "kind",
            "fee.kind.prompt",
            parse=request_kind,
            choices=tuple(Choice(k, f"fee.type.{k}") for k in fees.REQUESTS),
        ),
        Step("dispute", "fee.dispute.prompt", parse=parsers.description, when=_kind_is("dispute")),
        Step(
            "instalment",
            "fee.instalment.prompt",
            parse=parsers.description,
            when=_kind_is("instalment"),
        ),
        Step("reason", "fee.reason.prompt", parse=parsers.description),
    ),
    summary="fee.request.summary",
    summarize=fees.summarize_request,
    finish=fees.submit_request,
    start=fees.begin_request,
    in_menu=False,
)

FEE_VISIT = Flow(
    name="fee_visit",
    title="fee.visit.title",
    steps=(
        UNIT,
        Step("name", "fee.name.prompt", parse=parsers.name, prefill=_name),
        Step(
            "time",
            "fee.time.prompt",
            parse=parsers.option_or_text,
            choices=tuple(Choice(f"time:{w}", f"fee.time.{w}") for w in fees.TIME_WINDOWS),
        ),
        Step("amount", "fee.amount.prompt", parse=amount, prefill=_due, numeric=True),
        Step(
            "phone", "fee.phone.prompt", parse=parsers.phone, prefill=_phone, request_contact=True
        ),
    ),
    summary="fee.visit.summary",
    summarize=fees.summarize_visit,
    finish=fees.submit_visit,
    start=fees.begin_visit,
    in_menu=False,
)


# ---- the desk records an instalment plan ---------------------------------------------------


def plan_count(answer: Answer, ctx: Context, answers: Answers) -> int:
    most = ArrearsPolicy().max_instalments
    count = number(parsers.short_text(answer, ctx, answers).removesuffix("期"))
    if count is None or not 2 <= count <= most:
        raise InputError("fee.plan.error.count", max=most)
    return count


def plan_first(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = parsers.short_text(answer, ctx, answers)
    today = fees.local_today(ctx)
    day = parse_day(text, today)
    policy = ArrearsPolicy()
    if day is None or not first_day_allowed(day, today, policy):
        latest = today + timedelta(days=policy.first_instalment_within_days)
        raise InputError("fee.plan.error.first", value=text[:20], latest=latest)
    return day.isoformat()


def plan_amounts(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = parsers.short_text(answer, ctx, answers)
    amounts = parse_amounts(text)
    if amounts is None:
        raise InputError("fee.plan.error.amount_text", value=text[:50])
    total = fee_agreements.planned_total(answers)
    given = sum(amounts, Decimal("0"))
    if len(amounts) != answers["count"] or given != total:
        raise InputError(
            "fee.plan.error.amounts",
            count=answers["count"],
            total=Money(total),
            given=len(amounts),
            sum=Money(given),
        )
    return fee_agreements.AMOUNT_SEPARATOR.join(str(a) for a in amounts)


async def _first_proposed(ctx: Context, answers: Answers) -> Any:
    return proposed_first_day(fees.local_today(ctx), ArrearsPolicy()).isoformat()


async def _even_split(ctx: Context, answers: Answers) -> Any:
    return fee_agreements.even_split(answers)


FEE_PLAN = Flow(
    name=fee_agreements.PLAN_FLOW,
    title="fee.plan.title",
    steps=(
        Step(
            "count",
            "fee.plan.count.prompt",
            parse=plan_count,
            prompt_params=fee_agreements.prompt_params,
            numeric=True,
        ),
        Step("first", "fee.plan.first.prompt", parse=plan_first, prefill=_first_proposed),
        Step(
            "amounts",
            "fee.plan.amounts.prompt",
            parse=plan_amounts,
            prefill=_even_split,
            prompt_params=fee_agreements.prompt_params,
            numeric=True,
        ),
    ),
    summary="fee.plan.summary",
    summarize=fee_agreements.summarize_plan,
    finish=fee_agreements.finish_plan,
    start=fee_agreements.begin_plan,
    in_menu=False,
    in_groups=True,
)

FEATURE = Feature(
    name="fees",
    flows=[FEES, FEE_REQUEST, FEE_VISIT, FEE_PLAN],
    commands=[
        Command("paid", fees.paid_command, roles=STAFF_ROLES),
        Command("plan", fee_agreements.plan_command, roles=STAFF_ROLES),
        Command("agreements", fee_agreements.agreements_command, roles=STAFF_ROLES),
    ],
    for_staff=[
        StaffEntry(STAFF_ROLES, "fee.help.paid"),
        StaffEntry(STAFF_ROLES, "fee.help.plan"),
        StaffEntry(STAFF_ROLES, "fee.help.agreements"),
    ],
)
