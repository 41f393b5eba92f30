"""The supervisor's visit plan (走访计划): `/visitplan` makes one (title, topic, units, days,
by phone or in person, who visits), `/visitplans` shows how far each has got, and a
visit's card records its result (opinions, handling, outcome; a follow-up if needed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text, chosen
from handlers import visit_plans
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import MANAGERS, STAFF_ROLES
from handlers.rules import visit_plans as rules
from storage.models import StaffMember, Unit

# ---- making a plan ----------------------------------------------------------------------


async def _plan_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    community = await visit_plans.planning_community(ctx)
    if community is None or community.id is None:
        return [Reply("dialog.not_allowed")]
    return {"_community": community.id}


def _today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


async def _units(answer: Answer, ctx: Context, answers: Answers) -> list[list[Any]]:
    found = await visit_plans.resolve_units(ctx, answers["_community"], bounded_text(answer, 1000))
    if isinstance(found, visit_plans.Unknown):
        near = Text("visitplan.error.near", {"near": "、".join(found.near)}) if found.near else ""
        raise InputError("visitplan.error.unit", unit=found.text[:50], near=near)
    if not found:
        raise InputError("dialog.error.empty")
    if len(found) > rules.MOST_UNITS:
        raise InputError("visitplan.error.units_many", most=rules.MOST_UNITS)
    return [[unit_id, label] for unit_id, label in found]


def _days(answer: Answer, ctx: Context, answers: Answers) -> list[str]:
    text = answer.option or bounded_text(answer, 60)
    try:
        first, last = rules.read_window(text, _today(ctx))
    except rules.WindowError as error:
        raise InputError(f"visitplan.error.days.{error.reason}", most=rules.LONGEST_DAYS) from None
    return [first.isoformat(), last.isoformat()]


async def _who(ctx: Context, answers: Answers) -> Sequence[Choice]:
    staff = await visit_plans.visitors(ctx, answers["_community"])
    return (
        *(Choice(f"staff:{m.id}", "visitplan.who.staff", {"name": m.name}) for m in staff),
        Choice(visit_plans.MYSELF, "visitplan.who.me"),
    )


def _visitor(value: str) -> int | None:
    return row_id(value[6:]) if value.startswith("staff:") else None


async def _visitor_name(ctx: Context, answers: Answers) -> Any:
    member_id = _visitor(answers.get("who", ""))
    if member_id is None:
        return Text("visitplan.who.me")
    member = await ctx.session.get(StaffMember, member_id)
    return member.name if member else "—"


async def _plan_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    labels = [label for _, label in answers["units"]]
    shown = "、".join(labels[:20]) + ("…" if len(labels) > 20 else "")
    return {
        "title": answers["title"],
        "topic": answers.get("topic") or Text("visitplan.none"),
        "count": len(labels),
        "units": shown,
        "days": visit_plans.days_text(*(date.fromisoformat(d) for d in answers["days"])),
        "how": Text(f"visitplan.how.{answers['how']}"),
        "visitor": await _visitor_name(ctx, answers),
    }


async def _plan_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    first, last = (date.fromisoformat(d) for d in answers["days"])
    return await visit_plans.make_plan(
        ctx,
        visit_plans.PlanRequest(
            community_id=answers["_community"],
            title=answers["title"],
            topic=answers.get("topic") or "",
            units=[(int(u[0]), str(u[1])) for u in answers["units"]],
            first=first,
            last=last,
            how=answers["how"],
            visitor=_visitor(answers["who"]),
        ),
    )


PLAN = Flow(
    name=visit_plans.PLAN_FLOW,
    title="visitplan.title",
    steps=(
        Step("title", "visitplan.prompt.title", parse=parsers.short_text),
        Step(
            "topic",
            "visitplan.prompt.topic",
            parse=lambda a, c, x: bounded_text(a, 500),
            optional=True,
        ),
        Step("units", "visitplan.prompt.units", parse=_units),
        Step(
            "days",
            "visitplan.prompt.days",
            parse=_days,
            choices=(
                Choice("今天", "visitplan.days.today"),
                Choice("明天", "visitplan.days.tomorrow"),
            ),
        ),
        Step(
            "how",
            "visitplan.prompt.how",
            parse=chosen,
            choices=tuple(Choice(h, f"visitplan.how.{h}") for h in visit_plans.HOW),
        ),
        Step("who", "visitplan.prompt.who", parse=chosen, choices=_who),
    ),
    summary="visitplan.summary",
    summarize=_plan_summary,
    finish=_plan_finish,
    start=_plan_start,
    in_menu=False,
)

# ---- a visit's result ---------------------------------------------------------------------


async def _result_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    ticket_id = row_id(initial or "")
    found = await visit_plans.may_record(ctx, ticket_id) if ticket_id else [Reply("dialog.stale")]
    if isinstance(found, list):
        return found
    unit = await ctx.session.get(Unit, found.unit_id) if found.unit_id else None
    return {"_ticket": found.id, "_number": found.number, "_unit": unit.label if unit else ""}


def _opinions(answer: Answer, ctx: Context, answers: Answers) -> str:
    if answer.option == "none":
        return ""
    return bounded_text(answer, 1000)


def _follow_up(answers: Answers) -> bool:
    return answers.get("outcome") == "follow_up"


async def _result_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    result = {
        "opinions": answers.get("opinions") or "",
        "handling": answers.get("handling") or "",
        "outcome": answers["outcome"],
    }
    department = answers.get("department")
    return {
        "number": answers["_number"],
        "unit": answers["_unit"],
        "result": visit_plans.result_text(result),
        "department": Text(
            "visitplan.followup.to", {"department": Text(f"department.{department}")}
        )
        if department
        else "",
    }


async def _result_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await visit_plans.record_result(
        ctx,
        answers["_ticket"],
        opinions=answers.get("opinions") or "",
        handling=answers.get("handling") or "",
        outcome=answers["outcome"],
        department=answers.get("department"),
    )


RESULT = Flow(
    name=visit_plans.RESULT_FLOW,
    title="visitplan.result.title",
    steps=(
        Step(
            "opinions",
            "visitplan.prompt.opinions",
            parse=_opinions,
            choices=(Choice("none", "visitplan.opinions.none"),),
        ),
        Step(
            "handling",
            "visitplan.prompt.handling",
            parse=lambda a, c, x: bounded_text(a, 1000),
            optional=True,
        ),
        Step(
            "outcome",
            "visitplan.prompt.outcome",
            parse=chosen,
            choices=tuple(Choice(o, f"visitplan.outcome.{o}") for o in visit_plans.OUTCOMES),
        ),
        Step(
            "department",
            "visitplan.prompt.department",
            parse=chosen,
            choices=tuple(Choice(d, f"department.{d}") for d in visit_plans.FOLLOW_UP_DEPARTMENTS),
            when=_follow_up,
        ),
    ),
    summary="visitplan.result.summary",
    summarize=_result_summary,
    finish=_result_finish,
    start=_result_start,
    in_menu=False,
    in_groups=True,
)

FEATURE = Feature(
    name="visit_plans",
    flows=[PLAN, RESULT],
    commands=[Command("visitplans", visit_plans.plans_command, roles=STAFF_ROLES)],
    for_staff=[StaffEntry(MANAGERS, "visitplan.help")],
)
