"""Fees and arrears (物业费查询): the statement, the requests after it, and `/paid`.

`fees` answers with the statement at once (see handlers/fees.py). Its buttons start
`fee_request` (dispute an amount / pay in instalments: what and why) and `fee_visit`
(a door-to-door collection appointment, prefilled from the statement); neither is in
the menu. Staff record payments with `/paid <unit> <amount> <receipt>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialogs import parsers
from dialogs.engine import Command
from dialogs.flow import Answer, Answers, Flow, InputError, Step, chosen
from handlers import fees
from handlers.context import Context
from handlers.messages import Choice, Reply
from handlers.rules.fees import parse_amount

STAFF_ROLES = ("staff", "supervisor", "director")


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
        Step("amount", "fee.amount.prompt", parse=amount, prefill=_due),
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

FLOWS = [FEES, FEE_REQUEST, FEE_VISIT]
COMMANDS = [Command("paid", fees.paid_command, roles=STAFF_ROLES)]
