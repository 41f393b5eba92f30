"""The emergency short path: where, a phone number if we have none, then at once the work
order, the urgent pushes and what to do now (handlers/emergency.py).

It is started by words, never from the menu: an emergency typed at the menu (ROUTER) or
described in the repair flow (DETOUR), unless the resident asked for something else in so
many words ("我要投诉：楼上漏水淹到我家了" is a complaint, made urgent).
"""

from __future__ import annotations

from collections.abc import Sequence

from dialogs import parsers
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Detour, Flow, Step
from dialogs.intent import explicit_intent
from handlers import emergency
from handlers.core.context import Context
from handlers.core.messages import Choice
from handlers.repair import units_for
from handlers.work_orders import emergency_of

# Flows an emergency typed inside of is taken out of (a complaint stays a complaint).
FROM_FLOWS = frozenset({"repair"})


async def unit_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    units = await units_for(ctx)
    return [
        *(Choice(f"unit:{u.id}", "emergency.unit.option", {"unit": u.label}) for u in units),
        Choice(emergency.COMMON, "emergency.unit.common"),
    ]


def place(answer: Answer, ctx: Context, answers: Answers) -> str:
    """A chosen unit or common area, or the place typed (`3栋2单元电梯`)."""
    if answer.option:
        return answer.option
    return emergency.TYPED + parsers.short_text(answer, ctx, answers)


EMERGENCY = Flow(
    name="emergency",
    title="emergency.title",
    steps=(
        Step(
            "unit",
            "emergency.unit.prompt",
            parse=place,
            choices=unit_choices,
            prompt_params=emergency.prompt_params,
        ),
        Step(
            "location",
            "emergency.location.prompt",
            parse=parsers.short_text,
            when=lambda a: a.get("unit") == emergency.COMMON,
        ),
        Step(
            "phone",
            "emergency.phone.prompt",
            parse=parsers.phone,
            optional=True,
            request_contact=True,
            when=lambda a: not a.get("_phone"),
        ),
    ),
    summary="emergency.title",
    summarize=emergency.prompt_params,
    finish=emergency.submit,
    start=emergency.begin,
    in_menu=False,
    confirm=False,
)


async def route(ctx: Context, text: str) -> tuple[str, str] | None:
    """An emergency typed at the menu, unless the words ask for another flow outright."""
    if emergency_of(ctx, text) is None or explicit_intent(ctx, text) not in (None, "repair"):
        return None
    return EMERGENCY.name, text


async def detour(ctx: Context, flow: str, text: str) -> Detour | None:
    """An emergency described inside the repair flow takes the short path at once."""
    if flow not in FROM_FLOWS or emergency_of(ctx, text) is None:
        return None
    return Detour(EMERGENCY.name, text, ask=False)


FEATURE = Feature(
    name="emergency",
    flows=[EMERGENCY],
    router=route,
    detour=detour,
)
