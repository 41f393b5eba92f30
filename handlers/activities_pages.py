"""What the desk's page of community life shows and takes: for each community the desk
runs, the notice board (last renewed, with its photo, and when next due) and the
activities (planned, announced, done) with their sign-ups; the plan's form read with the
chat flow's own readers and saved by its own use-case (`handlers.activities.plan`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from handlers import activities, notice_board, policies
from handlers.core.context import Context
from handlers.core.messages import Reply
from storage.models import Community

FIELDS = (
    "community",
    "theme",
    "items",
    "cost",
    "place",
    "starts",
    "ends",
    "audience",
    "capacity",
    "per_household",
    "schedule",
    "prizes",
)


@dataclass(frozen=True)
class CommunityLife:
    community: Community
    board: notice_board.BoardState
    board_days: int
    activities: list[activities.Shown]


async def desk_page(ctx: Context) -> list[CommunityLife]:
    """Every community the sender runs (its desk, a supervisor or director)."""
    found = []
    for community in await activities.communities_for(ctx):
        assert community.id is not None
        policy = await policies.for_community(ctx.session, ctx.settings, community.id)
        days = policy.notice_board_days
        found.append(
            CommunityLife(
                community,
                await notice_board.state(ctx.session, community.id, days),
                days,
                [
                    await activities.shown(ctx.session, a, ctx.now)
                    for a in await activities.of_community(ctx.session, community.id)
                ],
            )
        )
    return found


def _read(
    ctx: Context, form: Mapping[str, str], departments: Sequence[str], problems: dict[str, str]
) -> activities.Plan | None:
    """The plan typed in the form, or None with what is wrong by field."""
    values: dict[str, Any] = {}

    def take(name: str, read: Any) -> None:
        text = form.get(name, "").strip()
        if not text and name in (*activities.OPTIONAL, "cost", "capacity", "per_household"):
            return
        try:
            values[name] = read(text)
        except activities.FieldError as error:
            problems[name] = error.key

    try:
        values["community"] = int(form.get("community", "0"))
    except ValueError:
        values["community"] = 0
    if not activities.may_plan(ctx, values["community"]):
        problems["community"] = "dialog.not_allowed"
    for name in ("theme", "items", "place", "audience", "schedule", "prizes"):
        take(name, lambda text, name=name: activities.read_text(name, text))
    take("cost", activities.read_cost)
    take("capacity", activities.read_people)
    take("per_household", activities.read_people)
    take("starts", lambda text: activities.read_start(ctx, text))
    if "starts" in values:
        take("ends", lambda text: activities.read_end(ctx, text, values["starts"]))
    try:
        chosen = activities.read_departments(list(departments))
    except activities.FieldError as error:
        problems["departments"] = error.key
        chosen = []
    for needed in ("theme", "place", "starts", "ends"):
        if needed not in values and needed not in problems:
            problems[needed] = "activities.error.empty"
    if problems:
        return None
    return activities.Plan(
        community_id=values["community"],
        theme=values["theme"],
        items=values.get("items", ""),
        cost=values.get("cost", Decimal(0)),
        place=values["place"],
        starts_at=values["starts"],
        ends_at=values["ends"],
        audience=values.get("audience", ""),
        capacity=values.get("capacity"),
        per_household=values.get("per_household"),
        schedule=values.get("schedule", ""),
        departments=chosen,
        prizes=values.get("prizes", ""),
    )


async def plan_from_form(
    ctx: Context, form: Mapping[str, str], departments: Sequence[str]
) -> tuple[dict[str, str], list[Reply]]:
    """The plan saved as chat saves it, or the problems by field (nothing saved)."""
    problems: dict[str, str] = {}
    planned = _read(ctx, form, departments, problems)
    if planned is None:
        return problems, []
    return {}, await activities.plan(ctx, planned)
