"""The survey's analysis (统计分析): the response rate, the mean score per area overall and
per building, the spread of the scores and the comments by area, as a chart and a
workbook for the office's director and supervisors.

Made when the survey closes (or again when a manager asks), by a job that reads and draws
outside the write path (`ReadFirst`, as `/report` does), so nobody waits behind it. The
desk's page shows the same numbers from `gather`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import survey
from handlers.core.context import Context
from handlers.core.i18n import Catalogs
from handlers.core.messages import Recipient, Reply, Text
from handlers.directory import people_with_role
from handlers.documents.chart import cjk_font
from handlers.documents.survey import (
    ResponseRow,
    SurveyData,
    SurveyFiles,
    draw_chart,
    write_workbook,
)
from handlers.rules import survey as rules
from handlers.survey_questions import area_text
from storage import jobs
from storage.models import (
    Building,
    Community,
    Job,
    StaffRole,
    Survey,
    SurveyResponse,
    Ticket,
    Unit,
)


async def gather(session: AsyncSession, found: Survey, policy: rules.SurveyPolicy) -> SurveyData:
    """The answers so far and what they say."""
    assert found.id is not None
    rows = await session.exec(
        select(SurveyResponse, Unit.label, Building.name, Ticket.number)
        .join(Unit, col(Unit.id) == col(SurveyResponse.unit_id))
        .join(Building, col(Building.id) == col(Unit.building_id))
        .outerjoin(Ticket, col(Ticket.id) == col(SurveyResponse.ticket_id))
        .where(SurveyResponse.survey_id == found.id)
        .order_by(col(Unit.label))
    )
    responses = [
        ResponseRow(
            unit=unit,
            building=building,
            answered_at=response.answered_at,
            scores={k: int(v) for k, v in response.answers.get("scores", {}).items()},
            comments=dict(response.answers.get("comments", {})),
            task=number or "",
        )
        for response, unit, building, number in rows.all()
    ]
    answered = [rules.Answered(r.unit, r.building, r.scores, r.comments) for r in responses]
    progress = await survey.progress(session, found.id)
    analysis = rules.analyse(rules.areas_of(found.questions), progress.invited, answered, policy)
    return SurveyData(title=found.title, analysis=analysis, responses=responses)


async def follow_ups(session: AsyncSession, survey_id: int) -> list[Ticket]:
    """The follow-up tasks low scores opened, oldest first."""
    rows = await session.exec(
        select(Ticket)
        .join(SurveyResponse, col(SurveyResponse.ticket_id) == col(Ticket.id))
        .where(SurveyResponse.survey_id == survey_id)
        .order_by(col(Ticket.id))
    )
    return list(rows.all())


def paths(out_dir: Path, code: str, year: int, locale: str) -> SurveyFiles:
    stem = f"survey-{code}-{year}-{locale}"
    return SurveyFiles(out_dir / f"{stem}.png", out_dir / f"{stem}.xlsx")


def labels(catalogs: Catalogs, locale: str) -> Any:
    return lambda key, **params: catalogs.text(locale, key, params)


def write_files(
    data: SurveyData,
    english_title: str,
    catalogs: Catalogs,
    locale: str,
    files: SurveyFiles,
    tz: Any,
) -> SurveyFiles:
    """Draw the chart and save the workbook (blocking: runs in a worker thread)."""
    files = SurveyFiles(files.chart.absolute(), files.workbook.absolute())
    font = cjk_font()
    if font is None:  # no Chinese font: the chart in English rather than empty boxes
        english = SurveyData(english_title, data.analysis, data.responses)
        draw_chart(english, labels(catalogs, "en"), files.chart, None)
    else:
        draw_chart(data, labels(catalogs, locale), files.chart, font)
    write_workbook(data, labels(catalogs, locale), tz, files.workbook)
    return files


async def build(ctx: Context, found: Survey, locale: str) -> tuple[SurveyData, SurveyFiles]:
    """Gather the answers and write the files; returns both."""
    community = await ctx.session.get(Community, found.community_id)
    code = community.code if community else str(found.community_id)
    policy = await survey.policy_for(ctx.session, ctx.settings, found.community_id)
    data = await gather(ctx.session, found, policy)
    english = ctx.catalogs.text("en", "opinion.title", {"community": code, "year": found.year})
    out = Path(ctx.settings.data_dir) / "surveys"
    files = await asyncio.to_thread(
        write_files,
        data,
        english,
        ctx.catalogs,
        locale,
        paths(out, code, found.year, locale),
        ctx.settings.tz,
    )
    return data, files


async def schedule(ctx: Context, found: Survey, asked: Recipient | None = None) -> None:
    """The analysis made by a job: for the community's director and supervisors, or for
    the one who asked."""
    payload: dict[str, Any] = {"survey": found.id}
    if asked is not None:
        payload["answer"] = {
            "channel": asked.channel,
            "chat_id": asked.chat_id,
            "locale": asked.locale,
        }
    await jobs.schedule(ctx.session, kind=survey.ANALYSIS_JOB, due_at=ctx.now, payload=payload)


async def read_job(ctx: Context, job: Job) -> tuple[SurveyData, SurveyFiles] | None:
    """On a read-only snapshot: the answers, and the files drawn."""
    found = await ctx.session.get(Survey, int(job.payload["survey"]))
    if found is None:
        return None
    asked = job.payload.get("answer") or {}
    return await build(ctx, found, asked.get("locale") or ctx.settings.default_locale)


def summary_reply(data: SurveyData, status: str) -> Reply:
    found = data.analysis
    means = [
        Text("opinion.analysis.mean", {"area": area_text(a), "mean": _shown(found.means[a])})
        for a in found.areas
    ]
    return Reply(
        "opinion.analysis",
        {
            "title": data.title,
            "state": Text(f"opinion.state.{status}"),
            "invited": found.invited,
            "answered": found.answered,
            "rate": _shown(found.rate),
            "overall": _shown(found.overall),
            "means": means,
            "low": found.low,
        },
    )


def _shown(value: Any) -> str:
    return "—" if value is None else f"{value}"


async def send_job(
    ctx: Context, job: Job, made: tuple[SurveyData, SurveyFiles] | None
) -> list[Reply]:
    """The figures, the chart and the workbook: to whoever asked, else to the community's
    director(s) and supervisor(s)."""
    found = await ctx.session.get(Survey, int(job.payload["survey"]))
    if made is None or found is None:
        return []
    data, files = made
    replies = [
        summary_reply(data, found.status),
        Reply("opinion.analysis.chart", {"title": data.title}, photo=str(files.chart)),
        Reply("opinion.analysis.workbook", {"title": data.title}, document=str(files.workbook)),
    ]
    if job.payload.get("answer"):
        return replies  # the asker's chat (the job answers it)
    managers = await people_with_role(
        ctx.session, found.community_id, StaffRole.director.value, StaffRole.supervisor.value
    )
    return [
        Reply(r.key, r.params, photo=r.photo, document=r.document, to=chat)
        for chat in dict.fromkeys(managers)
        for r in replies
    ]
