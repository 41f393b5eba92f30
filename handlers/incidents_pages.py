"""What the desk's emergency pages show and accept (bot/web/incidents.py): the open
incidents first with their age and last step, the recently closed after them; one
incident with its timeline and report; the raise form read into chat's own use-case."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from handlers import announce, incidents
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Reply, Text
from handlers.rules import incidents as rules
from storage.models import Building, Community, Incident

RECENT = 20  # closed incidents listed after the open ones
FIELDS = ("community", "kind", "building", "place", "description")


@dataclass
class Row:
    incident: Incident
    where: Any
    age: int  # minutes since raised (until closed)
    status: str
    last: Any


@dataclass
class Group:
    community: Community
    buildings: list[Building]
    rows: list[Row] = field(default_factory=list)


@dataclass
class Shown:
    incident: Incident
    community: Community
    where: Any
    status: str
    age: int
    timeline: list[Text]
    report: list[Text]
    may_manage: bool
    building: Building | None
    urgent: bool
    actions: dict[str, str]


async def _row(ctx: Context, incident: Incident) -> Row:
    until = incident.closed_at or ctx.now
    return Row(
        incident=incident,
        where=await incidents.where_of(ctx, incident),
        age=rules.age_minutes(incident.raised_at, until),
        status=incidents.status_of(incident),
        last=incidents.last_step(incident),
    )


async def listing(ctx: Context) -> list[Group]:
    """Each community the signed-in staff work for, its open incidents first (oldest
    first: the longest waiting), then the latest closed ones."""
    groups = []
    for community in await incidents.communities_for(ctx):
        assert community.id is not None
        group = Group(community, await announce.buildings_of(ctx.session, community.id))
        query = select(Incident).where(Incident.community_id == community.id)
        still_open = await ctx.session.exec(
            query.where(Incident.status == incidents.OPEN).order_by(col(Incident.raised_at))
        )
        closed = await ctx.session.exec(
            query.where(Incident.status == incidents.CLOSED)
            .order_by(col(Incident.raised_at).desc())
            .limit(RECENT)
        )
        group.rows = [await _row(ctx, i) for i in [*still_open.all(), *closed.all()]]
        groups.append(group)
    return groups


async def page(ctx: Context, incident_id: int) -> Shown | None:
    """One incident, for staff of its community; None otherwise (the same page either way)."""
    incident = await ctx.session.get(Incident, incident_id)
    if incident is None or incident.id is None:
        return None
    if incident.community_id not in {c.id for c in await incidents.communities_for(ctx)}:
        return None
    community = await ctx.session.get(Community, incident.community_id)
    assert community is not None
    building = (
        await ctx.session.get(Building, incident.building_id) if incident.building_id else None
    )
    ref = incident.id
    return Shown(
        incident=incident,
        community=community,
        where=await incidents.where_of(ctx, incident),
        status=incidents.status_of(incident),
        age=rules.age_minutes(incident.raised_at, incident.closed_at or ctx.now),
        timeline=incidents.timeline_text(incident),
        report=incidents.report_text(incidents.report_of(incident))
        if incident.status == incidents.CLOSED
        else [],
        may_manage=incidents.may_manage(ctx, incident.community_id),
        building=building,
        urgent=rules.residents_urgent(incident.kind),
        actions={
            "take": incidents.Take(ref).value(),
            "arrive": incidents.Arrive(ref).value(),
            "controlled": incidents.Controlled(ref).value(),
        },
    )


async def raise_from_form(ctx: Context, form: dict[str, str]) -> tuple[dict[str, str], list[Reply]]:
    """The page's raise form: what is wrong with it (field → catalog key), or chat's own
    use-case's replies."""
    problems: dict[str, str] = {}
    communities = {c.id: c for c in await incidents.communities_for(ctx)}
    community_id = row_id(form.get("community", ""))
    if community_id is None and len(communities) == 1:
        community_id = next(iter(communities))
    if community_id not in communities or community_id is None:
        problems["community"] = "incident.web.problem.community"
        return problems, [Reply("incident.staff_only")]
    if form.get("kind") not in rules.KINDS:
        problems["kind"] = "incident.web.problem.kind"
    building_id = row_id(form.get("building", ""))
    if building_id is not None:
        building = await ctx.session.get(Building, building_id)
        if building is None or building.community_id != community_id:
            problems["building"] = "incident.web.problem.place"
    place = form.get("place", "").strip()
    if building_id is None and not place:
        problems["place"] = "incident.web.problem.place"
    description = form.get("description", "").strip()
    if len(description) < 2:
        problems["description"] = "incident.web.problem.description"
    if problems:
        return problems, []
    return problems, await incidents.raise_incident(
        ctx,
        community_id=community_id,
        kind=form["kind"],
        building_id=building_id,
        place=place[:200],
        description=description[:2000],
    )
