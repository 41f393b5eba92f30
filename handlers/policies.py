"""The office's policies as the rules take them: the company's settings, with what a
community keeps of its own (`Community.policy`, set by `frontdesk policy`) laid over them.

Only deadlines and windows can differ by community (`COMMUNITY_POLICY`); quiet hours, the
escalation ladder and everything about channels stay the company's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import TypeAdapter, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.context import Context
from handlers.rules.complaint import ComplaintPolicy
from handlers.rules.escalation import Ladder, target_due
from handlers.rules.revisit import RevisitPolicy
from storage.models import Community

if TYPE_CHECKING:
    from bot.settings import Settings

COMMUNITY_POLICY = (
    "revisit_safety_days",
    "revisit_leak_days",
    "revisit_other_days",
    "revisit_ask_time",
    "revisit_settle_hours",
    "revisit_answer_hours",
    "revisit_call_hours",
    "leak_test_hours",
    "urgent_contact_minutes",
    "complaint_major_answer_days",
    "complaint_major_solve_days",
    "complaint_important_escalate_hours",
    "complaint_important_solve_days",
    "complaint_minor_solve_days",
    "repair_targets_hours",
    "kind_targets_hours",
    "warranty_months",
    "custody_fee_rate",
    "custody_water_limit",
    "custody_power_limit",
    "custody_patrol_days",
    "renovation_hours",
    "renovation_waste_fee",
    "renovation_completion_check",
    "visitor_approval",
    "visitor_daily_limit",
    "visitor_free_parking_minutes",
    "visitor_confirm_minutes",
    "visitor_early_minutes",
    "parcel_remind_hours",
    "parcel_remind_every_hours",
    "parcel_task_days",
    "key_loan_hours",
    "key_escalate_hours",
    "inspection_slip_hours",
    "notice_board_days",
    "survey_days",
    "survey_remind_days",
    "survey_low_score",
    "rent_remind_days",
    "rent_escalate_days",
    "arrears_promise_grace_days",
    "service_revisit_days",
)


class PolicyError(ValueError):
    """A community policy value that is not one of COMMUNITY_POLICY or not valid for it."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@cache
def _adapter(settings_class: type[Settings], name: str) -> TypeAdapter[Any]:
    field = settings_class.model_fields[name]
    kind = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    return TypeAdapter(kind)


def _valid(settings: Settings, name: str, value: Any) -> Any:
    """`value` as the settings' own field `name` takes it, with the same limits."""
    if name not in COMMUNITY_POLICY:
        raise PolicyError(name, "not a community policy")
    try:
        return _adapter(type(settings), name).validate_python(value)
    except ValidationError as error:
        raise PolicyError(name, error.errors()[0]["msg"]) from None


def checked(settings: Settings, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`overrides` validated, in the form the JSON column keeps."""
    kept = {}
    for name, value in overrides.items():
        valid = _valid(settings, name, value)  # first: an unknown name has no adapter
        kept[name] = _adapter(type(settings), name).dump_python(valid, mode="json")
    return kept


def overlaid(settings: Settings, overrides: Mapping[str, Any]) -> Settings:
    """The settings as one community has them. Tables (targets by repair category) merge
    into the company's, so a community names only the entries it changes."""
    update: dict[str, Any] = {}
    for name, value in overrides.items():
        valid = _valid(settings, name, value)
        current = getattr(settings, name)
        update[name] = {**current, **valid} if isinstance(current, dict) else valid
    return settings.model_copy(update=update) if update else settings


async def for_community(
    session: AsyncSession, settings: Settings, community_id: int | None
) -> Settings:
    """The settings as community `community_id` has them (the company's if it has none)."""
    community = await session.get(Community, community_id) if community_id else None
    return overlaid(settings, community.policy) if community else settings


async def kind_due(ctx: Context, community_id: int | None, kind: str) -> datetime | None:
    """The deadline of a new ticket of `kind` (a binding request, a call for a person) by
    its community's targets; None for a kind without one."""
    policy = await for_community(ctx.session, ctx.settings, community_id)
    return target_due(ctx.now, policy.kind_targets_hours.get(kind))


def revisit_policy(settings: Settings) -> RevisitPolicy:
    return RevisitPolicy(
        safety_days=settings.revisit_safety_days,
        leak_days=settings.revisit_leak_days,
        other_days=settings.revisit_other_days,
        ask_at=settings.revisit_ask_time,
        settle_hours=settings.revisit_settle_hours,
        answer_hours=settings.revisit_answer_hours,
        call_hours=settings.revisit_call_hours,
        leak_test_hours=settings.leak_test_hours,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
    )


def complaint_policy(settings: Settings) -> ComplaintPolicy:
    return ComplaintPolicy(
        major_answer=timedelta(days=settings.complaint_major_answer_days),
        major_solve=timedelta(days=settings.complaint_major_solve_days),
        important_escalate=timedelta(hours=settings.complaint_important_escalate_hours),
        important_solve=timedelta(days=settings.complaint_important_solve_days),
        minor_solve=timedelta(days=settings.complaint_minor_solve_days),
    )


def ladder(settings: Settings) -> Ladder:
    return Ladder(
        settings.deadline_warning_hours,
        settings.escalate_supervisor_hours,
        settings.escalate_director_hours,
    )
