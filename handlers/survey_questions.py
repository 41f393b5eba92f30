"""The survey's questions: which service areas are asked about and in what words.

A new survey takes the community's own list (`Checklist` "survey", kept from the last
time the office edited it) or, the first time, every area of the seed's form worded by the
catalogs. Until the survey is sent its managers may change it on the desk's page (areas
left out, a question in their own words); what they save is also kept as the community's
list for next year. Once sent, the questions no longer change: answers must mean the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import survey
from handlers.core.context import Context
from handlers.core.messages import Reply, Text
from handlers.rules import survey as rules
from storage import audit
from storage.models import Checklist, Survey


async def community_list(session: AsyncSession, community_id: int) -> Checklist | None:
    found = await session.exec(
        select(Checklist).where(
            Checklist.community_id == community_id, Checklist.name == survey.CHECKLIST
        )
    )
    return found.first()


async def for_new_survey(session: AsyncSession, community_id: int) -> list[dict[str, Any]]:
    """The community's own questions, else the seed's form."""
    own = await community_list(session, community_id)
    questions = rules.clean_questions(own.items) if own is not None else []
    return questions or rules.default_questions()


def area_text(area: str) -> Text:
    return Text(f"opinion.area.{area}")


def question_text(question: Mapping[str, Any]) -> Any:
    """The office's own words for the question, else the catalogs' default for its area."""
    if question.get("text"):
        return str(question["text"])
    return Text("opinion.question.default", {"area": area_text(str(question["area"]))})


def listed(questions: Sequence[Mapping[str, Any]]) -> list[Text]:
    """One line per question: `1. 维修服务：您对报修维修服务满意吗？`."""
    return [
        Text(
            "opinion.question.line",
            {"n": n, "area": area_text(str(q["area"])), "question": question_text(q)},
        )
        for n, q in enumerate(rules.clean_questions(questions), start=1)
    ]


def from_form(form: Mapping[str, str]) -> list[dict[str, Any]]:
    """The desk page's editor: `ask_<area>` ticked, `text_<area>` its own words."""
    return rules.clean_questions(
        [
            {"area": area, "text": form.get(f"text_{area}", "")}
            for area in rules.AREAS
            if form.get(f"ask_{area}")
        ]
    )


async def save(ctx: Context, survey_id: int, questions: list[dict[str, Any]]) -> list[Reply]:
    """The managers' questions for a survey not sent yet, kept for next year too."""
    found = await ctx.session.get(Survey, survey_id)
    if found is None or not survey.may_run(ctx, found.community_id):
        return [Reply("dialog.not_allowed")]
    if found.status != survey.DRAFT:
        return [Reply("opinion.questions.frozen")]
    cleaned = rules.clean_questions(questions)
    if not cleaned:
        return [Reply("opinion.questions.empty")]
    found.questions = cleaned
    ctx.session.add(found)
    own = await community_list(ctx.session, found.community_id)
    if own is None:
        own = Checklist(
            community_id=found.community_id,
            name=survey.CHECKLIST,
            updated_by=ctx.actor,
            updated_at=ctx.now,
        )
    own.items, own.updated_by, own.updated_at = cleaned, ctx.actor, ctx.now
    ctx.session.add(own)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="survey_questions",
        target=f"survey:{found.id}",
        detail={"questions": cleaned},
        now=ctx.now,
    )
    return [Reply("opinion.questions.saved", {"count": len(cleaned)})]
