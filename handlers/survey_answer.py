"""An owner answers the survey in chat: for one unit at a time, a score of 1 to 5 (很不满意 …
非常满意) and an optional comment for each area asked about, then a summary to confirm.

The invitation's (and each reminder's) button names the invitation
(`flow:survey_answer:<invite id>`); the flow started without one takes the owner's unit
still waiting (or asks which, for owners of several). A unit
answers once: the first of its owners to confirm; a second owner is thanked and told it
was already answered, never by whom. An owner who scores an area at or below the
community's low score gets a follow-up task for the service desk (`handlers.followups`),
one per answer, naming the low areas and the comments. An owner may stop halfway and come
back: the engine keeps the flow through its idle pause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from handlers import survey
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.followups import open_task
from handlers.rules import survey as rules
from handlers.survey_questions import area_text, question_text
from handlers.survey_send import answer_choice
from storage import audit
from storage.models import (
    Department,
    Person,
    Survey,
    SurveyInvite,
    SurveyResponse,
    Unit,
)
from storage.upsert import insert

SCORE_CHOICES = tuple(Choice(f"score:{n}", f"opinion.score.{n}") for n in rules.SCORES)


@dataclass(frozen=True)
class Waiting:
    """An invitation of the owner's whose unit has not answered yet."""

    invite: SurveyInvite
    survey: Survey
    unit: Unit


async def waiting(ctx: Context) -> list[Waiting]:
    """The owner's invitations to open surveys whose units have not answered, by unit."""
    if ctx.person is None or ctx.person.id is None:
        return []
    rows = await ctx.session.exec(
        select(SurveyInvite, Survey, Unit)
        .join(Survey, col(Survey.id) == col(SurveyInvite.survey_id))
        .join(Unit, col(Unit.id) == col(SurveyInvite.unit_id))
        .where(SurveyInvite.person_id == ctx.person.id, Survey.status == survey.OPEN)
        .order_by(col(Unit.label))
    )
    found = [Waiting(i, s, u) for i, s, u in rows.all()]
    answered: dict[int, set[int]] = {}
    for one in found:
        if one.survey.id is not None and one.survey.id not in answered:
            answered[one.survey.id] = await survey.answered_units(ctx.session, one.survey.id)
    return [w for w in found if w.unit.id not in answered.get(w.survey.id or 0, set())]


def _chosen(one: Waiting) -> dict[str, Any]:
    """What the flow keeps of the invitation: the steps' conditions read the areas."""
    return {
        "invite": one.invite.id,
        "survey": one.survey.id,
        "unit": one.unit.label,
        "title": one.survey.title,
        "questions": rules.clean_questions(one.survey.questions),
    }


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """From the invitation's button (its id); without one, the owner's unit waiting."""
    pending = await waiting(ctx)
    if initial:
        return await _from_invitation(ctx, initial, pending)
    if not pending:
        return [Reply("opinion.answer.none")]
    if len(pending) == 1:
        return {"invite": _chosen(pending[0])}
    return {}


async def _from_invitation(
    ctx: Context, initial: str, pending: Sequence[Waiting]
) -> dict[str, Any] | list[Reply]:
    mine = next((w for w in pending if str(w.invite.id) == initial.strip()), None)
    if mine is not None:
        return {"invite": _chosen(mine)}
    invite = await ctx.session.get(SurveyInvite, int(initial)) if initial.isdigit() else None
    person = ctx.person.id if ctx.person is not None else None
    if invite is None or invite.person_id != person:
        return [Reply("opinion.answer.none")]
    found = await ctx.session.get(Survey, invite.survey_id)
    if found is None or found.status != survey.OPEN:
        return [Reply("opinion.answer.closed")]
    unit = await ctx.session.get(Unit, invite.unit_id)
    return [Reply("opinion.answer.already", {"unit": unit.label if unit else ""})]


async def unit_choices(ctx: Context, answers: Mapping[str, Any]) -> Sequence[Choice]:
    return [
        Choice(f"invite:{w.invite.id}", "opinion.unit.option", {"unit": w.unit.label})
        for w in await waiting(ctx)
    ]


async def chosen_invite(ctx: Context, value: str) -> dict[str, Any] | None:
    """The unit picked among the owner's waiting ones (`invite:<id>`)."""
    for one in await waiting(ctx):
        if value == f"invite:{one.invite.id}":
            return _chosen(one)
    return None


def asks(area: str) -> Any:
    """A step's condition: the survey being answered asks about `area`."""

    def applies(answers: Mapping[str, Any]) -> bool:
        chosen = answers.get("invite")
        if not isinstance(chosen, Mapping):
            return False
        return any(q["area"] == area for q in chosen.get("questions", []))

    return applies


def question_params(area: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    chosen = answers["invite"]
    questions = list(chosen.get("questions", []))
    areas = [q["area"] for q in questions]
    here = questions[areas.index(area)] if area in areas else {"area": area, "text": ""}
    return {
        "unit": chosen["unit"],
        "n": areas.index(area) + 1 if area in areas else 1,
        "total": len(areas),
        "area": area_text(area),
        "question": question_text(here),
    }


def scores_of(answers: Mapping[str, Any]) -> dict[str, int]:
    return {
        area: int(answers[f"rate_{area}"])
        for area in rules.AREAS
        if answers.get(f"rate_{area}") is not None
    }


def comments_of(answers: Mapping[str, Any]) -> dict[str, str]:
    return {
        area: str(answers[f"note_{area}"]).strip()
        for area in rules.AREAS
        if answers.get(f"note_{area}") and str(answers[f"note_{area}"]).strip()
    }


def score_text(score: int) -> Text:
    return Text("opinion.score.line", {"score": score, "words": Text(f"opinion.score.{score}")})


async def summarize(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    scores, comments = scores_of(answers), comments_of(answers)
    lines = [
        Text(
            "opinion.summary.line",
            {
                "area": area_text(area),
                "score": score_text(score),
                "note": Text("opinion.summary.note", {"note": comments[area]})
                if area in comments
                else "",
            },
        )
        for area, score in scores.items()
    ]
    return {"unit": answers["invite"]["unit"], "lines": lines}


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """The unit's answer kept (the first owner's), a low score followed up, the next unit
    offered."""
    chosen = answers["invite"]
    invite = await ctx.session.get(SurveyInvite, int(chosen["invite"]))
    found = await ctx.session.get(Survey, int(chosen["survey"]))
    person = ctx.person
    if invite is None or found is None or person is None or invite.person_id != person.id:
        return [Reply("opinion.answer.none")]
    if found.status != survey.OPEN:
        return [Reply("opinion.answer.closed")]
    scores, comments = scores_of(answers), comments_of(answers)
    stmt = (
        insert(ctx.session, SurveyResponse)
        .values(
            survey_id=found.id,
            unit_id=invite.unit_id,
            person_id=person.id,
            answers={"scores": scores, "comments": comments},
            answered_at=ctx.now,
        )
        .on_conflict_do_nothing(index_elements=["survey_id", "unit_id"])
        .returning(SurveyResponse)
    )
    response = (await ctx.session.exec(stmt)).scalar_one_or_none()
    if response is None:  # another owner of the unit answered first
        return [Reply("opinion.answer.already", {"unit": chosen["unit"]})]
    replies = [Reply("opinion.answer.thanks", {"unit": chosen["unit"], "title": found.title})]
    policy = await survey.policy_for(ctx.session, ctx.settings, found.community_id)
    low = rules.low_areas(scores, policy)
    if low:
        replies += await _follow_up(ctx, found, response, person, chosen["unit"], low, comments)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="survey_answer",
        target=f"survey:{found.id}",
        detail={"unit": chosen["unit"], "low": low},
        now=ctx.now,
    )
    after = await waiting(ctx)
    if after:
        replies.append(
            Reply(
                "opinion.answer.next",
                {"unit": after[0].unit.label, "count": len(after)},
                choices=(answer_choice(after[0].invite.id or 0),),
            )
        )
    return replies


async def _follow_up(
    ctx: Context,
    found: Survey,
    response: SurveyResponse,
    person: Person,
    unit: str,
    low: list[str],
    comments: Mapping[str, str],
) -> list[Reply]:
    """One task for the service desk: call the owner about the areas they scored low."""
    locale = ctx.settings.default_locale
    scores = response.answers["scores"]
    lines = [
        Text(
            "opinion.task.line",
            {
                "area": area_text(area),
                "score": scores[area],
                "note": Text("opinion.summary.note", {"note": comments[area]})
                if area in comments
                else "",
            },
        )
        for area in low
    ]
    description = ctx.catalogs.text(
        locale,
        "opinion.task.description",
        {"title": found.title, "unit": unit, "name": person.name, "lines": lines},
    )
    ticket, cards = await open_task(
        ctx,
        community_id=found.community_id,
        department=Department.service,
        description=description,
        due_at=ctx.now + timedelta(days=rules.FOLLOW_UP_DAYS),
        unit_id=response.unit_id,
        details={"survey": found.id, "survey_response": response.id, "low": low},
        contact_name=person.name,
        contact_phone=person.phone or "",
    )
    response.ticket_id = ticket.id
    ctx.session.add(response)
    return cards
