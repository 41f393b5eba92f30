"""The office's side of the survey: `/survey` shows this year's state for each community
the sender follows, with the buttons the managers (supervisors, directors) need at that
state — create it (a draft with the community's questions), send it to the owners, close
it, have the analysis sent again. The desk's page (`bot/web/survey.py`) presses the same
buttons through the engine.

A survey stays open `survey_days` (a job closes it then, unless a manager closed it
earlier); closing withdraws notices not delivered yet and has the analysis made for the
community's director and supervisors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlmodel import select

from handlers import survey, survey_analysis, survey_questions, survey_send
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply
from handlers.rules import survey as rules
from storage import audit, jobs, outbox
from storage.models import Community, Job, Survey
from storage.upsert import insert


@dataclass(frozen=True)
class CreateSurvey(Action):
    name: ClassVar[str] = "sv_new"
    community: int


@dataclass(frozen=True)
class OpenSurvey(Action):
    name: ClassVar[str] = "sv_open"
    survey: int


@dataclass(frozen=True)
class CloseSurvey(Action):
    name: ClassVar[str] = "sv_close"
    survey: int


@dataclass(frozen=True)
class SendAnalysis(Action):
    name: ClassVar[str] = "sv_report"
    survey: int


# ---- `/survey`: this year's state ----------------------------------------------------------


async def status(ctx: Context, community: Community) -> Reply:
    """This year's survey of the community, and what a manager may do next."""
    assert community.id is not None
    year = survey.year_of(ctx)
    found = await survey.of_year(ctx.session, community.id, year)
    runs = survey.may_run(ctx, community.id)
    if found is None or found.id is None:
        create = (CreateSurvey(community.id).choice("opinion.btn.create"),) if runs else ()
        return Reply(
            "opinion.status.none", {"community": community.name, "year": year}, choices=create
        )
    done = await survey.progress(ctx.session, found.id)
    params = {
        "title": found.title,
        "questions": survey_questions.listed(found.questions),
        "owners": done.owners,
        "invited": done.invited,
        "answered": done.answered,
        "rate": _shown(done.rate),
        "closes": found.closes_at,
        "closed": found.closed_at,
    }
    choices: tuple[Choice, ...] = ()
    if found.status == survey.DRAFT:
        reached = await survey_send.owners(ctx.session, community.id)
        params |= {
            "owners": len({o.person_id for o in reached}),
            "invited": len({o.unit_id for o in reached}),
        }
        choices = (OpenSurvey(found.id).choice("opinion.btn.open"),) if runs else ()
    elif found.status == survey.OPEN and runs:
        choices = (
            CloseSurvey(found.id).choice("opinion.btn.close"),
            SendAnalysis(found.id).choice("opinion.btn.analysis"),
        )
    elif runs:
        choices = (SendAnalysis(found.id).choice("opinion.btn.analysis"),)
    return Reply(f"opinion.status.{found.status}", params, choices=choices)


def _shown(value: object) -> str:
    return "—" if value is None else f"{value}"


async def survey_command(ctx: Context, argument: str) -> list[Reply]:
    """`/survey [community code]`: for the managers and the service desk."""
    seen = await survey.communities_seen(ctx)
    code = argument.strip().upper()
    if code:
        seen = [c for c in seen if c.code.upper() == code]
    if not seen:
        return [Reply("dialog.not_allowed")]
    return [await status(ctx, community) for community in seen]


# ---- the buttons ------------------------------------------------------------------------


async def _managed(ctx: Context, survey_id: int) -> Survey | None:
    found = await ctx.session.get(Survey, survey_id)
    return found if found is not None and survey.may_run(ctx, found.community_id) else None


async def create(ctx: Context, action: CreateSurvey) -> list[Reply]:
    """This year's survey as a draft with the community's questions."""
    community = await ctx.session.get(Community, action.community)
    if community is None or community.id is None or not survey.may_run(ctx, community.id):
        return [Reply("dialog.not_allowed")]
    year = survey.year_of(ctx)
    title = ctx.catalogs.text(
        ctx.settings.default_locale, "opinion.title", {"community": community.name, "year": year}
    )
    stmt = (
        insert(ctx.session, Survey)
        .values(
            community_id=community.id,
            year=year,
            title=title[:200],
            questions=await survey_questions.for_new_survey(ctx.session, community.id),
            status=survey.DRAFT,
            made_by=ctx.actor,
            made_at=ctx.now,
        )
        .on_conflict_do_nothing(index_elements=["community_id", "year"])
        .returning(Survey)
    )
    made = (await ctx.session.exec(stmt)).scalar_one_or_none()
    if made is None:  # made already (this year's, or a double press)
        return [Reply("opinion.exists"), await status(ctx, community)]
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="survey_create",
        target=f"survey:{made.id}",
        detail={"community": community.code, "year": year},
        now=ctx.now,
    )
    return [Reply("opinion.created", {"title": title}), await status(ctx, community)]


async def open_survey(ctx: Context, action: OpenSurvey) -> list[Reply]:
    """Send it to every owner bound in chat; it stays open `survey_days`."""
    found = await _managed(ctx, action.survey)
    if found is None or found.id is None:
        return [Reply("dialog.not_allowed")]
    if found.status != survey.DRAFT:
        community = await ctx.session.get(Community, found.community_id)
        return [Reply("opinion.not_draft"), *([await status(ctx, community)] if community else [])]
    policy = await survey.policy_for(ctx.session, ctx.settings, found.community_id)
    found.status, found.opened_at = survey.OPEN, ctx.now
    found.closes_at = rules.closes_at(ctx.now, policy)
    ctx.session.add(found)
    sent = await survey_send.invite_owners(ctx, found)
    await survey_send.schedule_reminders(ctx, found, policy)
    await jobs.schedule(
        ctx.session,
        kind=survey.CLOSE_JOB,
        due_at=found.closes_at,
        payload={"survey": found.id},
        dedupe_key=f"{survey.CLOSE_JOB}:{found.id}",
    )
    done = await survey.progress(ctx.session, found.id)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="survey_open",
        target=f"survey:{found.id}",
        detail={"owners": done.owners, "units": done.invited, "queued": sent.queued},
        now=ctx.now,
    )
    return [
        Reply(
            "opinion.opened",
            {
                "title": found.title,
                "owners": done.owners,
                "units": done.invited,
                "closes": found.closes_at,
                "days": policy.remind_days,
            },
        )
    ]


async def close_survey(ctx: Context, found: Survey) -> None:
    """Closed now: notices still waiting are withdrawn, the analysis is made."""
    found.status, found.closed_at = survey.CLOSED, ctx.now
    ctx.session.add(found)
    await outbox.withdraw(ctx.session, f"survey:{found.id}:", ctx.now)
    await survey_analysis.schedule(ctx, found)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="survey_close",
        target=f"survey:{found.id}",
        now=ctx.now,
    )


async def close(ctx: Context, action: CloseSurvey) -> list[Reply]:
    found = await _managed(ctx, action.survey)
    if found is None:
        return [Reply("dialog.not_allowed")]
    if found.status != survey.OPEN:
        return [Reply("opinion.not_open", {"title": found.title})]
    await close_survey(ctx, found)
    return [Reply("opinion.closed", {"title": found.title})]


async def close_job(ctx: Context, job: Job) -> list[Reply]:
    """The survey's last day is over: closed, unless a manager closed it already."""
    found = await ctx.session.get(Survey, int(job.payload["survey"]))
    if found is None or found.status != survey.OPEN:
        return []
    if found.closes_at is not None and ctx.now < found.closes_at:
        return []
    await close_survey(ctx, found)
    return []


async def send_analysis(ctx: Context, action: SendAnalysis) -> list[Reply]:
    """The analysis so far (or final), to the manager who asked."""
    found = await _managed(ctx, action.survey)
    if found is None:
        return [Reply("dialog.not_allowed")]
    asked = Recipient(ctx.msg.channel, ctx.msg.chat_id, ctx.locale)
    await survey_analysis.schedule(ctx, found, asked)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="survey_analysis_asked",
        target=f"survey:{found.id}",
        now=ctx.now,
    )
    return [Reply("opinion.analysis.coming", {"title": found.title})]


async def surveys_of(ctx: Context, community_id: int) -> list[Survey]:
    """The community's surveys, the latest year first (the desk's page)."""
    found = await ctx.session.exec(
        select(Survey).where(Survey.community_id == community_id).order_by(Survey.year.desc())  # type: ignore[attr-defined]
    )
    return list(found.all())
