"""Arrears casework in chat (欠费催缴个案): `/arrears [UNIT]` for the service desk and the
managers, the contact flow with the seed's collection script as its prompts (check the unit
and the owner, say the months and the amount, ask why, agree a date), the legal file's
buttons, and the sweep that follows promised pay dates up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import arrears_work, arrears_work_legal, arrears_work_promises
from handlers.arrears_work_contacts import Contact, record_contact
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Money, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.fees import joined, local_today, month_text
from handlers.rules import arrears_work as rules
from handlers.rules.dates import read_day
from handlers.rules.money import AmountError, read_amount


async def _start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """`flow:arrears_contact:<case id>` from the case or the visit task."""
    found = await arrears_work.workable_case(ctx, row_id(initial or ""))
    if isinstance(found, Reply):
        return [found]
    case, _ = found
    shown = await arrears_work.case_file(ctx, case)
    return {
        "_case": case.id,
        "_unit": shown.unit.label,
        "_owners": shown.owner_names,
        "_amount": str(shown.statement.net_arrears),
        "_months": [d.month for d in shown.statement.arrears],
    }


async def _script(ctx: Context, answers: Answers) -> dict[str, Any]:
    """The collection script's facts: the unit, its owner, the months and the amount."""
    return {
        "unit": answers["_unit"],
        "owners": answers["_owners"],
        "months": joined([month_text(m) for m in answers["_months"]], "fee.join", "—"),
        "amount": Money(Decimal(answers["_amount"])),
    }


def _options(prefix: str, values: Sequence[str]) -> Sequence[Choice]:
    return [Choice(f"{prefix}:{v}", f"arrears_work.{prefix}.{v}") for v in values]


async def _methods(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return _options("method", rules.METHODS)


async def _reached_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return [
        Choice("reached:yes", "arrears_work.reached.yes"),
        Choice("reached:no", "arrears_work.reached.no"),
    ]


async def _reasons(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return _options("reason", rules.REASONS)


def _picked(prefix: str, values: Sequence[str]) -> Any:
    def parse(answer: Answer, ctx: Context, answers: Answers) -> str:
        option = answer.option or ""
        if option.startswith(f"{prefix}:") and option[len(prefix) + 1 :] in values:
            return option[len(prefix) + 1 :]
        raise InputError("dialog.error.choose")

    return parse


def _day(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = bounded_text(answer, 40)
    today = local_today(ctx)
    day = read_day(text, today)
    if day is None or not rules.promise_day_allowed(day, today):
        raise InputError("arrears_work.error.day", within=rules.PROMISE_WITHIN_DAYS)
    return day.isoformat()


def _amount(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = bounded_text(answer, 20)
    try:
        return str(read_amount(text))
    except AmountError:
        raise InputError("arrears_work.error.amount") from None


async def _owed(ctx: Context, answers: Answers) -> Any:
    return answers["_amount"] if Decimal(answers["_amount"]) > 0 else None


def _reached(answers: Answers) -> bool:
    return answers.get("reached") == "yes"


def _may_promise(answers: Answers) -> bool:
    return _reached(answers) and "reason" in answers and answers["reason"] != rules.DISPUTE


def _promised(answers: Answers) -> bool:
    return _may_promise(answers) and bool(answers.get("promised_on"))


async def _summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    reason = answers.get("reason") if _reached(answers) else None
    day = answers.get("promised_on") if _may_promise(answers) else None
    amount = answers.get("promised_amount") if day else None
    return {
        **await _script(ctx, answers),
        "method": Text(f"arrears_work.method.{answers['method']}"),
        "reached": Text(f"arrears_work.reached.{answers['reached']}"),
        "reason": Text(f"arrears_work.reason.{reason}") if reason else "—",
        "outcome": answers.get("outcome") or "—",
        "promise": Text(
            "arrears_work.summary.promise",
            {
                "day": _date(day),
                "amount": Money(Decimal(amount)) if amount else Text("arrears_work.promise.any"),
            },
        )
        if day
        else Text("arrears_work.promise.none"),
        "dispute": Text("arrears_work.summary.dispute") if reason == rules.DISPUTE else "",
    }


def _date(value: str) -> date:
    return date.fromisoformat(value)


async def _finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    reached = _reached(answers)
    day = answers.get("promised_on") if _may_promise(answers) else None
    amount = answers.get("promised_amount") if day else None
    contact = Contact(
        method=answers["method"],
        reached=reached,
        reason=(answers.get("reason") or "") if reached else "",
        outcome=answers.get("outcome") or "",
        promised_on=_date(day) if day else None,
        promised_amount=Decimal(amount) if amount else None,
    )
    return await record_contact(ctx, int(answers["_case"]), contact)


CONTACT = Flow(
    name=arrears_work.CONTACT_FLOW,
    title="arrears_work.contact.title",
    steps=(
        Step(
            "method",
            "arrears_work.method.prompt",
            parse=_picked("method", rules.METHODS),
            choices=_methods,
            prompt_params=_script,
        ),
        Step(
            "reached",
            "arrears_work.reached.prompt",
            parse=_picked("reached", ("yes", "no")),
            choices=_reached_choices,
        ),
        Step(
            "reason",
            "arrears_work.reason.prompt",
            parse=_picked("reason", rules.REASONS),
            choices=_reasons,
            when=_reached,
            prompt_params=_script,
        ),
        Step(
            "outcome",
            "arrears_work.outcome.prompt",
            parse=lambda answer, ctx, answers: bounded_text(answer, 1000),
        ),
        Step(
            "promised_on",
            "arrears_work.promised_on.prompt",
            parse=_day,
            when=_may_promise,
            optional=True,
        ),
        Step(
            "promised_amount",
            "arrears_work.promised_amount.prompt",
            parse=_amount,
            when=_promised,
            prefill=_owed,
            numeric=True,
            prompt_params=_script,
        ),
    ),
    summary="arrears_work.contact.summary",
    summarize=_summary,
    finish=_finish,
    start=_start,
    in_menu=False,
    in_groups=True,
)

FEATURE = Feature(
    name="arrears_work",
    flows=[CONTACT],
    commands=[Command("arrears", arrears_work.arrears_command, roles=STAFF_ROLES)],
    actions={
        arrears_work.PrepareLegal: arrears_work_legal.choose_legal,
        arrears_work.ApproveLegal: arrears_work_legal.approve_legal,
        arrears_work.HoldLegal: arrears_work_legal.hold_legal,
    },
    sweeps=[arrears_work_promises.promise_sweep],
    for_staff=[StaffEntry(STAFF_ROLES, "arrears_work.help")],
)
