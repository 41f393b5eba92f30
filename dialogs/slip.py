"""The release slip flow (放行条): unit, items, vehicle, date and time; then the decision.

The date is read as people type it (`明天上午`, `周六`, `11/28`); a part of the day named
with it (`上午`) answers the time step too.

`/slip` alone asks for a slip; `/slip <code>` is the guard's check at the gate (see
handlers/slip.py). The owner's and the service desk's buttons and the guard's "used"
button are the actions below.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from dialogs import parsers
from dialogs.engine import StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text, chosen
from handlers import fees, slip
from handlers.core.context import Context
from handlers.core.messages import Choice, Text
from handlers.core.roles import STAFF_ROLES
from handlers.rules import slip as rules
from handlers.rules.dates import examples

DAYS = (0, 1, 2)


async def unit_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return [
        Choice(f"unit:{unit.id}", "slip.unit.option", {"unit": unit.label})
        for unit in await fees.units_for(ctx)
    ]


def items_listed(batches: list[Any]) -> int:
    """The items step collects a list per message: its `{count}` is the items, not messages."""
    return sum(len(batch) for batch in batches)


def items(answer: Answer, ctx: Context, answers: Answers) -> list[dict[str, Any]]:
    text = bounded_text(answer, 500)
    already = sum(len(batch) for batch in answers.get("_items", []))
    try:
        return rules.parse_items(text, already)
    except rules.Invalid as error:
        raise InputError(error.key, **error.params) from None


async def items_so_far(ctx: Context, answers: Answers) -> dict[str, Any]:
    listed = slip.items_of(answers)
    if not listed:
        return {"so_far": ""}
    return {"so_far": Text("slip.items.so_far", {"items": slip.items_text(listed)})}


def plate(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = bounded_text(answer, 20)
    found = rules.parse_plate(text)
    if found is None:
        raise InputError("slip.error.plate", value=text)
    return found


def day(answer: Answer, ctx: Context, answers: Answers) -> dict[str, Any]:
    """The day (ISO) and the part of the day when one was typed with it."""
    today = fees.local_today(ctx)
    if answer.option and answer.option.startswith("day:"):
        return {"day": (today + timedelta(days=int(answer.option[4:]))).isoformat(), "part": None}
    try:
        found = rules.slip_day(bounded_text(answer, 30), today)
    except rules.Invalid as error:
        raise InputError(error.key, **error.params) from None
    return {"day": found.day.isoformat(), "part": found.part}


async def day_examples(ctx: Context, answers: Answers) -> dict[str, str]:
    return examples(rules.example_day(fees.local_today(ctx)))


SLIP = Flow(
    name="slip",
    title="slip.title",
    steps=(
        Step("unit", "slip.unit.prompt", parse=chosen, choices=unit_choices),
        Step(
            "items",
            "slip.items.prompt",
            parse=items,
            many=True,
            prompt_params=items_so_far,
            collected="slip.items.collected",
            count=items_listed,
        ),
        Step("plate", "slip.plate.prompt", parse=plate, optional=True),
        Step(
            "day",
            "slip.day.prompt",
            parse=day,
            choices=tuple(Choice(f"day:{n}", f"slip.day.{n}") for n in DAYS),
            prompt_params=day_examples,
        ),
        Step(
            "window",
            "slip.window.prompt",
            parse=parsers.option_or_text,
            choices=tuple(Choice(f"window:{w}", f"slip.window.{w}") for w in slip.WINDOWS),
            when=lambda answers: slip.day_part(answers) is None,
        ),
    ),
    summary="slip.summary",
    summarize=slip.summarize,
    finish=slip.submit,
    start=slip.begin,
    in_groups=True,
)

FEATURE = Feature(
    name="slip",
    flows=[SLIP],
    actions={
        slip.OwnerApproves: slip.owner_approves,
        slip.OwnerDenies: slip.owner_denies,
        slip.DeskApproves: slip.desk_approves,
        slip.DeskDenies: slip.desk_denies,
        slip.MarkUsed: slip.mark_used,
    },
    for_staff=[StaffEntry(STAFF_ROLES, "slip.help.check")],
)
