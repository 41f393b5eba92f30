"""The annual owners' opinion survey (业主意见征询表): what its parts share.

Once a year per community the office asks every owner bound in chat how satisfied they
are with repairs, security, cleaning, greening, the service desk and the fees (a score
of 1 to 5 and an optional comment each), one answer per unit, and reports the analysis
to the office's director (seed: 每年发放《业主意见征询表》征询业主意见并及时回收，统计分析，
报管理处主任). The parts: the office's side (`survey_office.py`: `/survey`, create, open,
close), the questions (`survey_questions.py`), sending and reminders (`survey_send.py`),
the owners' answers (`survey_answer.py`) and the analysis (`survey_analysis.py`).

This module holds what they all use: the policy, the year's survey of a community, who
may run it and who may see it, and how far it has got.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import distinct, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import policies
from handlers.core.context import Context
from handlers.rules import survey as rules
from handlers.staffauth import acting_member, is_manager
from storage.models import Community, Department, Survey, SurveyInvite, SurveyResponse

if TYPE_CHECKING:
    from bot.settings import Settings

FLOW = "survey_answer"  # the owners' flow, from the invitation's button; `/survey` is staff's
CHECKLIST = "survey"  # a community's own questions (`Checklist.name`)
DRAFT, OPEN, CLOSED = "draft", "open", "closed"
REMIND_JOB = "survey_remind"
CLOSE_JOB = "survey_close"
ANALYSIS_JOB = "survey_analysis"


def survey_policy(settings: Settings) -> rules.SurveyPolicy:
    return rules.SurveyPolicy(
        days=settings.survey_days,
        remind_days=settings.survey_remind_days,
        low_score=settings.survey_low_score,
    )


async def policy_for(
    session: AsyncSession, settings: Settings, community_id: int
) -> rules.SurveyPolicy:
    """The survey's policy as the community has it (`frontdesk policy XFL survey_days=…`)."""
    return survey_policy(await policies.for_community(session, settings, community_id))


def year_of(ctx: Context) -> int:
    """The office's year now (a survey made on 31 December at 23:30 is that year's)."""
    return ctx.now.astimezone(ctx.settings.tz).year


async def of_year(session: AsyncSession, community_id: int, year: int) -> Survey | None:
    found = await session.exec(
        select(Survey).where(Survey.community_id == community_id, Survey.year == year)
    )
    return found.first()


def may_run(ctx: Context, community_id: int) -> bool:
    """Supervisors and directors of the community (or company-wide) run its survey."""
    return is_manager(ctx, community_id)


def may_see(ctx: Context, community_id: int) -> bool:
    """The managers and the community's service desk follow it (the desk's page)."""
    return acting_member(ctx, community_id, Department.service) is not None


async def communities_seen(ctx: Context) -> list[Community]:
    """The communities whose survey the sender may see, by code."""
    found = (await ctx.session.exec(select(Community).order_by(col(Community.code)))).all()
    return [c for c in found if c.id is not None and may_see(ctx, c.id)]


@dataclass(frozen=True)
class Progress:
    """How far a survey has got: owners and units asked, units that answered."""

    owners: int
    invited: int  # units
    answered: int  # units

    @property
    def rate(self) -> Decimal | None:
        return rules.rate(self.answered, self.invited)


async def progress(session: AsyncSession, survey_id: int) -> Progress:
    owners, units = (
        await session.exec(
            select(
                func.count(distinct(col(SurveyInvite.person_id))),
                func.count(distinct(col(SurveyInvite.unit_id))),
            ).where(SurveyInvite.survey_id == survey_id)
        )
    ).one()
    answered = (
        await session.exec(
            select(func.count())
            .select_from(SurveyResponse)
            .where(SurveyResponse.survey_id == survey_id)
        )
    ).one()
    return Progress(owners=int(owners), invited=int(units), answered=int(answered))


async def answered_units(session: AsyncSession, survey_id: int) -> set[int]:
    rows = await session.exec(
        select(SurveyResponse.unit_id).where(SurveyResponse.survey_id == survey_id)
    )
    return set(rows.all())
