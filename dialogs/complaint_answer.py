"""Answering a complaint's resident from its card: a reply relayed to them, or a call made.

Until one of these is recorded, the complaint counts as unanswered and climbs when its
answer-by time passes (handlers/escalation.py); `/answer NUMBER TEXT` does the same.
"""

from __future__ import annotations

from typing import Any

from dialogs import parsers
from dialogs.feature import Feature
from dialogs.flow import Answers, Flow, Step, chosen
from handlers import complaint
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text


async def _start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await complaint.answerable(ctx, row_id(initial or ""))
    if isinstance(found, Reply):
        return [found]
    ticket, _ = found
    return {"_ticket": ticket.id, "_number": ticket.number}


async def _summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    how = str(answers["how"])
    return {
        "number": answers["_number"],
        "how": Text(f"complaint.answer.how.{how}"),
        "text": answers.get(how, ""),
    }


async def _finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    found = await complaint.answerable(ctx, answers["_ticket"])
    if isinstance(found, Reply):
        return [found]
    how = str(answers["how"])
    return await complaint.answer(ctx, *found, how, str(answers[how]))


ANSWER = Flow(
    name="complaint_answer",
    title="complaint.answer.title",
    steps=(
        Step(
            "how",
            "complaint.answer.how.prompt",
            parse=chosen,
            choices=tuple(
                Choice(way, f"complaint.answer.how.{way}") for way in complaint.ANSWER_WAYS
            ),
        ),
        Step(
            "message",
            "complaint.answer.message.prompt",
            parse=parsers.description,
            when=lambda a: a.get("how") == "message",
        ),
        Step(
            "phone",
            "complaint.answer.phone.prompt",
            parse=parsers.description,
            when=lambda a: a.get("how") == "phone",
        ),
    ),
    summary="complaint.answer.summary",
    summarize=_summary,
    finish=_finish,
    start=_start,
    in_menu=False,
    in_groups=True,
)

FEATURE = Feature(
    name="complaint_answer",
    flows=[ANSWER],
)
