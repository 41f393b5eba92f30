"""What the desk's renovation pages ask: the list (in review, in progress, or all), one
renovation with its papers (the desk's and the managers' only), reviews, permit, passes,
fee and the checks during the work, and an application filed at the counter from a form
(read as the chat flow reads it, sent through the same `apply`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import col, select

from handlers import renovation as reno
from handlers import renovation_apply
from handlers.board import actor_names
from handlers.core.context import Context
from handlers.core.messages import Reply, Text
from handlers.directory import unit_by_label
from handlers.rules.dates import read_day
from handlers.rules.phone import normalise_phone
from handlers.staffauth import acting_member
from storage.models import (
    Binding,
    Community,
    Department,
    Document,
    Person,
    Renovation,
    Role,
    Ticket,
    Unit,
)

SHOW = {
    "review": reno.IN_REVIEW,
    "work": reno.IN_WORK,
    "all": tuple(reno.S),
}


def sees(ctx: Context, community_id: int) -> bool:
    """Who sees a renovation's page: the desk, repair, security of its community, managers."""
    return any(
        acting_member(ctx, community_id, department) is not None
        for department in (Department.service, Department.repair, Department.security)
    )


@dataclass
class Row:
    renovation: Renovation
    unit: Unit
    number: str
    applicant: str


@dataclass
class Group:
    community: Community
    rows: list[Row] = field(default_factory=list)


async def listing(ctx: Context, show: str, unit_id: int | None = None) -> list[Group]:
    """The renovations of the communities the sender works for, by what is shown (open,
    in review, in progress, all), of one unit if given."""
    statuses = SHOW.get(show, reno.OPEN)
    groups: list[Group] = []
    for community_id in await reno.staff_communities(ctx):
        community = await ctx.session.get(Community, community_id)
        if community is None or not sees(ctx, community_id):
            continue
        group = Group(community)
        for renovation, unit in await reno.listed(ctx.session, [community_id], statuses):
            if unit_id is not None and unit.id != unit_id:
                continue
            ticket = (
                await ctx.session.get(Ticket, renovation.ticket_id)
                if renovation.ticket_id
                else None
            )
            person = await ctx.session.get(Person, renovation.applicant_id)
            group.rows.append(
                Row(
                    renovation, unit, ticket.number if ticket else "", person.name if person else ""
                )
            )
        groups.append(group)
    return groups


@dataclass(frozen=True)
class Review:
    at: datetime
    by: str
    decision: str
    note: str


@dataclass
class Page:
    renovation: Renovation
    unit: Unit
    ticket: Ticket | None
    applicant: Person | None
    papers: list[Document]  # empty for those who may not see them
    sees_papers: bool
    may_decide: bool
    may_review: bool
    workers: list[tuple[str, str]]
    hours: str
    authority_missing: bool
    names: dict[str, str]  # who added a paper or decided, by name (`staff:3` → 李敏)
    reviews: list[Review]


async def page(ctx: Context, ref: int) -> Page | None:
    renovation = await ctx.session.get(Renovation, ref)
    if renovation is None or not sees(ctx, renovation.community_id):
        return None
    unit = await ctx.session.get(Unit, renovation.unit_id)
    assert unit is not None and renovation.id is not None
    ticket = await ctx.session.get(Ticket, renovation.ticket_id) if renovation.ticket_id else None
    private = reno.sees_papers(ctx.staff, renovation.community_id)
    kept = await reno.papers(ctx.session, renovation)
    params = await reno.card_params(ctx, renovation)
    actors = {p.added_by for p in kept} | {str(e.get("by", "")) for e in renovation.reviews}
    names = await actor_names(ctx.session, actors)
    reviews = [
        Review(
            at=datetime.fromisoformat(e["at"]),
            by=names.get(str(e.get("by", "")), str(e.get("by", ""))),
            decision=str(e.get("decision", "")),
            note=str(e.get("note", "")),
        )
        for e in renovation.reviews
    ]
    return Page(
        renovation=renovation,
        unit=unit,
        ticket=ticket,
        applicant=await ctx.session.get(Person, renovation.applicant_id),
        papers=kept if private else [],
        sees_papers=private,
        may_decide=reno.desk_member(ctx, renovation.community_id) is not None,
        may_review=reno.reviewer(ctx, renovation.community_id) is not None,
        workers=reno.workers_of(ticket),
        hours=str(params["hours"]),
        authority_missing=(renovation.structural or renovation.load_increase)
        and not any(p.kind == "authority" for p in kept),
        names=names,
        reviews=reviews,
    )


async def community_of(ctx: Context, ref: int) -> int:
    renovation = await ctx.session.get(Renovation, ref)
    return renovation.community_id if renovation else 0


# ---- an application at the counter ---------------------------------------------------------

FIELDS = (
    "unit",
    "starts",
    "ends",
    "contractor",
    "foreman",
    "foreman_phone",
    "plan",
    "changes",
    "count",
    "workers",
    "agreement",
)


async def _owner(ctx: Context, unit: Unit) -> Person | None:
    rows = await ctx.session.exec(
        select(Person)
        .join(Binding, col(Binding.person_id) == col(Person.id))
        .where(Binding.unit_id == unit.id, Binding.role == Role.owner)
        .order_by(col(Binding.id))
    )
    return rows.first()


def _day(text: str, today: date, problems: dict[str, str], name: str) -> date | None:
    found = read_day(text, today) if text else None
    if found is None:
        problems[name] = "reno.error.day"
    return found


async def apply_from_form(ctx: Context, form: dict[str, str]) -> tuple[dict[str, str], list[Reply]]:
    """The counter's form: the problems by field (nothing recorded), or the replies of the
    application sent as chat's own."""
    problems: dict[str, str] = {}
    unit: Unit | None = None
    for community_id in await reno.staff_communities(ctx):
        if reno.desk_member(ctx, community_id) is None:
            continue
        unit = await unit_by_label(ctx.session, community_id, form.get("unit", "").strip())
        if unit is not None:
            break
    if unit is None:
        problems["unit"] = "reno.web.no_unit"
    today = reno.local_today(ctx)
    starts = _day(form.get("starts", ""), today, problems, "starts")
    ends = _day(form.get("ends", ""), today, problems, "ends")
    for name in ("contractor", "foreman", "plan"):
        if not form.get(name, "").strip():
            problems[name] = "reno.web.required"
    phone = normalise_phone(form.get("foreman_phone", ""))
    if phone is None:
        problems["foreman_phone"] = "reno.web.phone"
    count = form.get("count", "").strip()
    if not count.isdigit() or not 1 <= int(count) <= 50:
        problems["count"] = "reno.web.count_error"
    workers = renovation_apply.read_workers(
        form.get("workers", ""), int(count) if count.isdigit() else 50
    )
    if isinstance(workers, Text):
        problems["workers"] = workers.key
    if form.get("agreement") != "yes":
        problems["agreement"] = "reno.agreement.needed"
    if starts and ends and "starts" not in problems:
        wrong = renovation_apply.read_dates(starts, ends, today)
        if wrong is not None:
            problems["starts" if wrong.key == "reno.error.past" else "ends"] = wrong.key
    owner = await _owner(ctx, unit) if unit else None
    if unit is not None and owner is None:
        problems["unit"] = "reno.web.no_owner"
    if problems or unit is None or owner is None or starts is None or ends is None:
        return problems, []
    assert isinstance(workers, list) and phone is not None
    structural, load = reno.changes_flags(form.get("changes", "changes:none"))
    application = renovation_apply.Application(
        starts=starts,
        ends=ends,
        contractor=form["contractor"].strip(),
        foreman=form["foreman"].strip(),
        foreman_phone=phone,
        plan=form["plan"].strip(),
        structural=structural,
        load_increase=load,
        workers=workers,
        files=[],
    )
    replies = await renovation_apply.apply(ctx, unit, owner, application)
    if replies and replies[0].key == "reno.already_open":
        problems["unit"] = "reno.web.already_open"
    return problems, replies
