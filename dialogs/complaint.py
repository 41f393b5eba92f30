"""The complaint flow (投诉): what happened, when, where, who, what the resident wants,
photos, their own deadline and how to reach them; then a classified complaint ticket."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from dialogs import parsers
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import complaint
from handlers.core.context import Context
from handlers.core.messages import Choice
from handlers.repair import units_for
from handlers.rules.complaint import OWN_DEADLINE_MAX
from handlers.rules.dates import examples, read_day


async def where_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    units = await units_for(ctx)
    return [
        Choice(f"unit:{unit.id}", "complaint.where.unit", {"unit": unit.label}) for unit in units
    ]


def option_or_words(limit: int) -> Any:
    """A chosen option's value, or the resident's own words (at most `limit` characters)."""

    def parse(answer: Answer, ctx: Context, answers: Answers) -> str:
        if answer.option:
            return answer.option
        return bounded_text(answer, limit)

    return parse


def _today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


def _example_day(ctx: Context) -> date:
    # A week ahead: a plausible deadline, written as the resident would type one today.
    return _today(ctx) + timedelta(days=7)


def own_deadline(answer: Answer, ctx: Context, answers: Answers) -> str:
    """The day the resident wants it solved by: not in the past, within a year."""
    text = bounded_text(answer, 50)
    today = _today(ctx)
    day = read_day(text, today)
    if day is None:
        raise InputError("complaint.deadline.invalid", value=text, **examples(_example_day(ctx)))
    if day < today:
        raise InputError("complaint.deadline.past", day=day)
    if day - today > OWN_DEADLINE_MAX:
        raise InputError("complaint.deadline.too_far", day=day)
    return day.isoformat()


async def deadline_examples(ctx: Context, answers: Answers) -> dict[str, str]:
    return examples(_example_day(ctx))


async def _name(ctx: Context, answers: Answers) -> Any:
    return ctx.person.name if ctx.person else None


async def _phone(ctx: Context, answers: Answers) -> Any:
    return ctx.person.phone if ctx.person else None


def _choices(prefix: str, labels: dict[str, str]) -> tuple[Choice, ...]:
    return tuple(Choice(f"{prefix}{value}", key) for value, key in labels.items())


COMPLAINT = Flow(
    name="complaint",
    title="complaint.title",
    steps=(
        Step("what", "complaint.what.prompt", parse=parsers.description),
        Step(
            "when",
            "complaint.when.prompt",
            parse=option_or_words(100),
            choices=_choices("when:", complaint.WHEN_LABELS),
        ),
        Step("where", "complaint.where.prompt", parse=option_or_words(200), choices=where_choices),
        Step(
            "who",
            "complaint.who.prompt",
            parse=option_or_words(100),
            choices=_choices("dept:", complaint.WHO_LABELS),
        ),
        Step(
            "want",
            "complaint.want.prompt",
            parse=option_or_words(500),
            choices=_choices("want:", complaint.WANT_LABELS),
        ),
        Step("photos", "complaint.photos.prompt", parse=parsers.photo, many=True, optional=True),
        Step(
            "deadline",
            "complaint.deadline.prompt",
            parse=own_deadline,
            optional=True,
            prompt_params=deadline_examples,
        ),
        Step("name", "complaint.name.prompt", parse=parsers.name, prefill=_name),
        Step(
            "phone",
            "complaint.phone.prompt",
            parse=parsers.phone,
            prefill=_phone,
            request_contact=True,
        ),
    ),
    summary="complaint.summary",
    summarize=complaint.summarize,
    finish=complaint.submit,
    start=complaint.begin,
    detours=True,
)

FEATURE = Feature(
    name="complaint",
    flows=[COMPLAINT],
    actions={
        complaint.SetKind: complaint.set_kind,
        complaint.SetSeverity: complaint.set_severity,
    },
)
