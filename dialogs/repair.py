"""The repair request flow (报修): where, what, photos, when, who; then a work order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialogs import parsers
from dialogs.feature import Feature
from dialogs.flow import Answers, Flow, Step, chosen
from handlers import repair
from handlers.core.context import Context
from handlers.core.messages import Choice, Text
from handlers.rules.warranty import CATEGORIES

TIME_WINDOWS = ("today_pm", "tomorrow_am", "tomorrow_pm", "anytime")


async def unit_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    units = await repair.units_for(ctx)
    # Nobody bound yet: their own flat needs the binding first (it decides warranty and
    # who may see the ticket); a common-area problem can be reported at once.
    own = [Choice("flow:bind", "repair.unit.bind")] if not units else []
    return [
        *(Choice(f"unit:{unit.id}", "repair.unit.option", {"unit": unit.label}) for unit in units),
        *own,
        Choice("common", "repair.unit.common"),
    ]


async def unit_note(ctx: Context, answers: Answers) -> dict[str, Any]:
    bound = await repair.units_for(ctx)
    return {"note": "" if bound else Text("repair.unit.unbound")}


def _common(answers: Answers) -> bool:
    return answers.get("unit") == "common"


async def _name(ctx: Context, answers: Answers) -> Any:
    return ctx.person.name if ctx.person else None


async def _phone(ctx: Context, answers: Answers) -> Any:
    return ctx.person.phone if ctx.person else None


REPAIR = Flow(
    name="repair",
    title="repair.title",
    steps=(
        Step(
            "unit",
            "repair.unit.prompt",
            parse=chosen,
            choices=unit_choices,
            prompt_params=unit_note,
        ),
        Step("location", "repair.location.prompt", parse=parsers.short_text, when=_common),
        Step(
            "category",
            "repair.category.prompt",
            parse=chosen,
            choices=tuple(Choice(c, f"repair.category.{c}") for c in CATEGORIES),
        ),
        Step("description", "repair.description.prompt", parse=parsers.description),
        Step("photos", "repair.photos.prompt", parse=parsers.photo, many=True, optional=True),
        Step(
            "time",
            "repair.time.prompt",
            parse=parsers.option_or_text,
            choices=tuple(Choice(f"time:{w}", f"repair.time.{w}") for w in TIME_WINDOWS),
        ),
        Step("name", "repair.name.prompt", parse=parsers.name, prefill=_name),
        Step(
            "phone",
            "repair.phone.prompt",
            parse=parsers.phone,
            prefill=_phone,
            request_contact=True,
        ),
    ),
    summary="repair.summary",
    summarize=repair.summarize,
    finish=repair.submit,
    start=repair.begin,
    detours=True,
)

FEATURE = Feature(
    name="repair",
    flows=[REPAIR],
)
