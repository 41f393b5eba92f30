"""What the desk's survey page shows (`bot/web/survey.py`): for each community the signed-in
staff member follows, this year's survey — its questions (an editor while it is a draft),
how far it has got, the buttons a manager may press at that state, and the analysis so
far (the same numbers the director's files have), with the follow-up tasks of low scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handlers import survey, survey_analysis, survey_questions, survey_send
from handlers.core.context import Context
from handlers.documents.survey import SurveyData, SurveyFiles
from handlers.rules import survey as rules
from handlers.survey import Progress
from handlers.survey_office import CloseSurvey, CreateSurvey, OpenSurvey, SendAnalysis
from storage.models import Community, Survey, Ticket


@dataclass(frozen=True)
class Question:
    """One area on the editor: asked or not, and in which words."""

    area: str
    asked: bool
    text: str


@dataclass(frozen=True)
class CommunitySurvey:
    community: Community
    year: int
    survey: Survey | None
    runs: bool  # a manager: may press the buttons and edit the questions
    progress: Progress | None = None
    questions: list[Question] = field(default_factory=list)
    data: SurveyData | None = None
    tasks: list[Ticket] = field(default_factory=list)
    buttons: dict[str, str] = field(default_factory=dict)  # what -> the action's value


async def desk_page(ctx: Context) -> list[CommunitySurvey]:
    return [await _one(ctx, c) for c in await survey.communities_seen(ctx)]


async def _one(ctx: Context, community: Community) -> CommunitySurvey:
    assert community.id is not None
    year = survey.year_of(ctx)
    found = await survey.of_year(ctx.session, community.id, year)
    runs = survey.may_run(ctx, community.id)
    if found is None or found.id is None:
        create = {"create": CreateSurvey(community.id).value()} if runs else {}
        return CommunitySurvey(community, year, None, runs, buttons=create)
    asked = {q["area"]: q for q in rules.clean_questions(found.questions)}
    questions = [
        Question(a, a in asked, str(asked[a]["text"]) if a in asked else "") for a in rules.AREAS
    ]
    if found.status == survey.DRAFT:
        reached = await survey_send.owners(ctx.session, community.id)
        done = Progress(
            owners=len({o.person_id for o in reached}),
            invited=len({o.unit_id for o in reached}),
            answered=0,
        )
    else:
        done = await survey.progress(ctx.session, found.id)
    buttons: dict[str, str] = {}
    if runs and found.status == survey.DRAFT:
        buttons["open"] = OpenSurvey(found.id).value()
    if runs and found.status == survey.OPEN:
        buttons["close"] = CloseSurvey(found.id).value()
    if runs and found.status != survey.DRAFT:
        buttons["analysis"] = SendAnalysis(found.id).value()
    data = None
    tasks: list[Ticket] = []
    if done.answered:
        policy = await survey.policy_for(ctx.session, ctx.settings, community.id)
        data = await survey_analysis.gather(ctx.session, found, policy)
        tasks = await survey_analysis.follow_ups(ctx.session, found.id)
    return CommunitySurvey(
        community, year, found, runs, done, questions, data, tasks, buttons=buttons
    )


def default_question(ctx: Context, area: str) -> str:
    """The catalogs' wording of an area's question, shown where the office has none."""
    return ctx.catalogs.text(ctx.locale, "opinion.question.default", {"area": _area(area)})


def _area(area: str) -> Any:
    return survey_questions.area_text(area)


async def files(ctx: Context, survey_id: int) -> SurveyFiles | None:
    """The chart and the workbook drawn now, for staff who may see the survey."""
    found = await ctx.session.get(Survey, survey_id)
    if found is None or not survey.may_see(ctx, found.community_id):
        return None
    _, made = await survey_analysis.build(ctx, found, ctx.locale)
    return made
