"""Visitors (访客): the resident's pre-registration (`/visit`, and the menu), their list
(`/visitors`), the gate's `/visitor CODE` and the guard's walk-in (`/walkin`).

Arrival and departure are read as people type them (`明天下午3点`, `今天18:00`, `周六上午`,
`3小时`); over the unit's daily limit the arrival step is refused with every answer kept.
See handlers/visitors.py, visitors_gate.py and visitors_walkin.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text, chosen
from handlers import fees, visitors, visitors_gate, visitors_walkin
from handlers.core.context import Context
from handlers.core.messages import Choice
from handlers.core.roles import STAFF_ROLES
from handlers.rules import slip as slip_rules
from handlers.rules import visitors as rules


async def unit_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return [
        Choice(f"unit:{unit.id}", "visitor.unit.option", {"unit": unit.label})
        for unit in await fees.units_for(ctx)
    ]


def plate(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = bounded_text(answer, 20)
    found = slip_rules.parse_plate(text)
    if found is None:
        raise InputError("visitor.error.plate", value=text)
    return found


async def arrival(answer: Answer, ctx: Context, answers: Answers) -> str:
    """The expected arrival; refused (everything else kept) over the unit's daily limit."""
    text = bounded_text(answer, 40)
    try:
        found = rules.arrival(text, ctx.now, ctx.settings.tz)
    except slip_rules.Invalid as error:
        raise InputError(error.key, **error.params) from None
    unit = await fees.chosen_unit(ctx, answers)
    if unit is not None:
        refused = await visitors.limit_refusal(ctx, unit, found)
        if refused is not None:
            raise InputError(refused.key, **refused.params)
    return found.isoformat()


def departure(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = bounded_text(answer, 40)
    arrives = datetime.fromisoformat(str(answers["arrival"]))
    try:
        return rules.departure(text, arrives, ctx.now, ctx.settings.tz).isoformat()
    except slip_rules.Invalid as error:
        raise InputError(error.key, **error.params) from None


async def departure_default(ctx: Context, answers: Answers) -> dict[str, Any]:
    arrives = datetime.fromisoformat(str(answers["arrival"]))
    return {"default": rules.default_departure(arrives), "from": arrives}


def companions(answer: Answer, ctx: Context, answers: Answers) -> int:
    if answer.option and answer.option.startswith("n:"):
        return int(answer.option[2:])
    try:
        return rules.companions(bounded_text(answer, 20))
    except slip_rules.Invalid as error:
        raise InputError(error.key, **error.params) from None


COMPANIONS = tuple(Choice(f"n:{n}", f"visitor.companions.{n}") for n in range(3))

VISIT = Flow(
    name="visit",
    title="visitor.visit.title",
    steps=(
        Step("unit", "visitor.unit.prompt", parse=chosen, choices=unit_choices),
        Step("name", "visitor.name.prompt", parse=parsers.name),
        Step("phone", "visitor.phone.prompt", parse=parsers.phone),
        Step("plate", "visitor.plate.prompt", parse=plate, optional=True),
        Step("purpose", "visitor.purpose.prompt", parse=parsers.short_text),
        Step("arrival", "visitor.arrival.prompt", parse=arrival),
        Step(
            "departure",
            "visitor.departure.prompt",
            parse=departure,
            optional=True,
            prompt_params=departure_default,
        ),
        Step("companions", "visitor.companions.prompt", parse=companions, choices=COMPANIONS),
    ),
    summary="visitor.visit.summary",
    summarize=visitors.summarize,
    finish=visitors.submit,
    start=visitors.begin,
)


async def walkin_unit(answer: Answer, ctx: Context, answers: Answers) -> int:
    text = bounded_text(answer, 40)
    try:
        unit = await visitors_walkin.find_unit(ctx, int(answers["_community"]), text)
    except visitors_walkin.Refused as refused:
        raise InputError(refused.key, **refused.params) from None
    assert unit.id is not None
    return unit.id


WALKIN = Flow(
    name="walkin",
    title="visitor.walkin.title",
    steps=(
        Step("unit", "visitor.walkin.unit.prompt", parse=walkin_unit),
        Step("name", "visitor.walkin.name.prompt", parse=parsers.name),
        Step("phone", "visitor.walkin.phone.prompt", parse=parsers.phone, optional=True),
        Step("purpose", "visitor.walkin.purpose.prompt", parse=parsers.short_text),
        Step("companions", "visitor.companions.prompt", parse=companions, choices=COMPANIONS),
        Step("plate", "visitor.plate.prompt", parse=plate, optional=True),
    ),
    summary="visitor.walkin.summary",
    summarize=visitors_walkin.summarize,
    finish=visitors_walkin.submit,
    start=visitors_walkin.begin,
    in_menu=False,
    in_groups=True,
)

FEATURE = Feature(
    name="visitors",
    flows=[VISIT, WALKIN],
    commands=[
        Command("visitor", visitors_gate.visitor_command, roles=STAFF_ROLES),
        Command("visitors", visitors.list_command),
    ],
    actions={
        visitors.DeskApproves: visitors.desk_approves,
        visitors.DeskRefuses: visitors.desk_refuses,
        visitors.MyVisits: visitors.list_action,
        visitors.Cancel: visitors.cancel,
        visitors.ShowCode: visitors.show_code,
        visitors_gate.VisitorIn: visitors_gate.let_in,
        visitors_gate.VisitorOut: visitors_gate.leave,
        visitors_gate.TurnAway: visitors_gate.turn_away,
        visitors_walkin.ResidentYes: visitors_walkin.resident_yes,
        visitors_walkin.ResidentNo: visitors_walkin.resident_no,
    },
    jobs={visitors_walkin.CONFIRM: visitors_walkin.no_answer},
    sweeps=[visitors_gate.expire_due],
    menu=[visitors.MyVisits().choice("visitor.mine.title")],
    for_staff=[StaffEntry(STAFF_ROLES, "visitor.help.staff")],
)
