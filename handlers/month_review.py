"""The month-end analysis (月度回访小结与问题分析): "每月末汇总走回访记录，并进行统计、分析，
对类似问题出现较多的，写成统计分析报告，以书面形式经客户服务中心主管审核后，报管理处主任".

On the 1st of each month at 08:00 (community time) a job makes, for each community, a
`MonthReview` of the month just ended: the revisit summary (revisits done, on time,
satisfied, by phone, windows that closed unanswered; the plan's visits) and the recurring
problems (handlers/rules/month_review.py). The month is gathered and its workbook and
chart drawn (handlers/month_review_files.py) on a read-only snapshot first; the review is
then stored once per community and month (a unique row: a restart or a second worker
makes no second one) and pushed to the supervisors in chat with its files and the buttons
"write a comment" and "forward to the director", and shown on the desk's pages. The supervisor's
comment is kept; forwarding sends the summary, the comment and the file to the directors.
`/report` is untouched: it still draws any month's figures on demand.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, ClassVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.directory import people_with_role
from handlers.month_review_files import chart_path, draw_review_chart, review_path, write_review
from handlers.rules import month_review as rules
from handlers.rules.lifecycle import OPEN, REOPENING
from handlers.rules.visit_plans import DONE
from storage import audit, jobs
from storage.models import (
    Building,
    Community,
    Job,
    MonthReview,
    StaffMember,
    Ticket,
    TicketEvent,
    TicketKind,
    Unit,
)
from storage.upsert import insert

JOB = "month_review"
COMMENT_FLOW = "review_comment"
THEMES = ("noise", "parking", "leak", "lift", "cleaning", "security", "attitude", "fees")
UNANSWERED_LOOKBACK = timedelta(days=10)  # a revisit window is at most a few days long


@dataclass(frozen=True)
class Forward(Action):
    """Forward a month's review to the director (转呈主任)."""

    name: ClassVar[str] = "mr_fwd"
    review: int


# ---- the job ------------------------------------------------------------------------------


async def schedule_monthly(session: AsyncSession, now: datetime, tz: tzinfo) -> None:
    """Make sure the next review run is in the job table (once, whoever asks)."""
    due = rules.next_review(now, tz)
    await jobs.schedule(
        session,
        kind=JOB,
        due_at=due,
        payload={},
        dedupe_key=f"{JOB}:{due.astimezone(tz).date().isoformat()}",
    )


@dataclass(frozen=True)
class Drawn:
    """A community's month, gathered and drawn before it is stored."""

    community_id: int
    month: str
    findings: dict[str, Any]
    workbook: str
    chart: str


async def read_month(ctx: Context, job: Job) -> list[Drawn]:
    """The month just ended, gathered and drawn for every community not reviewed yet (on a
    read-only snapshot, outside the write path: drawing takes a moment)."""
    month = rules.previous_month(job.due_at, ctx.settings.tz)
    done = set(
        (
            await ctx.session.exec(
                select(MonthReview.community_id).where(MonthReview.month == month)
            )
        ).all()
    )
    drawn: list[Drawn] = []
    for community in (await ctx.session.exec(select(Community).order_by(col(Community.id)))).all():
        if community.id is not None and community.id not in done:
            drawn.append(await draw(ctx, community, month))
    return drawn


async def send_month(ctx: Context, job: Job, drawn: list[Drawn]) -> list[Reply]:
    """Each review stored (once per community and month) and pushed; the next run booked."""
    await schedule_monthly(ctx.session, ctx.now + timedelta(minutes=1), ctx.settings.tz)
    replies: list[Reply] = []
    for found in drawn:
        replies += await store(ctx, found)
    return replies


async def draw(ctx: Context, community: Community, month: str) -> Drawn:
    """The community's month gathered, its workbook and chart drawn."""
    assert community.id is not None
    findings = await gather(ctx, community.id, month)
    folder = Path(ctx.settings.data_dir) / "reports"
    locale = ctx.catalogs.default_locale

    def label(key: str, **params: Any) -> str:
        return ctx.catalogs.text(locale, key, params)

    draft = MonthReview(community_id=community.id, month=month, findings=findings, made_at=ctx.now)
    workbook = review_path(folder, community.code, month)
    chart = chart_path(folder, community.code, month)
    title = label("month_review.file.title", community=community.name, month=month)
    await asyncio.to_thread(
        write_review, draft, community.name, "", label, ctx.settings.tz, workbook
    )
    await asyncio.to_thread(draw_review_chart, findings, title, label, chart)
    return Drawn(community.id, month, findings, str(workbook.absolute()), str(chart.absolute()))


async def make_review(ctx: Context, community: Community, month: str) -> list[Reply]:
    """The community's review of `month` made at once (gathered, drawn and stored in one
    go) and pushed; nothing when it was made already."""
    return await store(ctx, await draw(ctx, community, month))


async def store(ctx: Context, drawn: Drawn) -> list[Reply]:
    """The review kept and pushed to the community's supervisors with its files; nothing
    when it was made already (a second run, another worker)."""
    stmt = (
        insert(ctx.session, MonthReview)
        .values(
            community_id=drawn.community_id,
            month=drawn.month,
            findings=drawn.findings,
            status="made",
            comment="",
            made_at=ctx.now,
            reviewed_by="",
        )
        .on_conflict_do_nothing(index_elements=["community_id", "month"])
        .returning(col(MonthReview.id))
    )
    made = (await ctx.session.exec(stmt)).scalar_one_or_none()  # type: ignore[call-overload]
    if made is None:
        return []
    review = await ctx.session.get(MonthReview, made)
    community = await ctx.session.get(Community, drawn.community_id)
    assert review is not None and community is not None
    await audit.record(
        ctx.session,
        actor="system",
        action="month_review",
        target=f"month_review:{review.id}",
        detail={"community": community.code, "month": drawn.month},
        now=ctx.now,
    )
    month = {"month": drawn.month}
    return [
        reply
        for chat in await people_with_role(ctx.session, community.id, "supervisor")
        for reply in (
            Reply(
                "month_review.made",
                review_params(review, community),
                to=chat,
                choices=review_choices(review),
            ),
            Reply("month_review.chart", month, to=chat, photo=drawn.chart),
            Reply("month_review.file", month, to=chat, document=drawn.workbook),
        )
    ]


# ---- gathering the month ------------------------------------------------------------------


def themes_of(ctx: Context) -> dict[str, set[str]]:
    return {name: ctx.catalogs.words(f"month_review.theme.{name}.words") for name in THEMES}


async def gather(ctx: Context, community_id: int, month: str) -> dict[str, Any]:
    """The month's revisit summary and recurring problems, as the review keeps them."""
    tz = ctx.settings.tz
    start, after = rules.month_bounds(month, tz)
    policy = rules.ReviewPolicy()
    session = ctx.session
    rows = (
        await session.exec(
            select(Ticket, Unit, Building)
            .outerjoin(Unit, col(Unit.id) == col(Ticket.unit_id))
            .outerjoin(Building, col(Building.id) == col(Unit.building_id))
            .where(
                Ticket.community_id == community_id,
                col(Ticket.kind).in_((TicketKind.repair, TicketKind.complaint)),
                col(Ticket.created_at) >= start,
                col(Ticket.created_at) < after,
            )
            .order_by(col(Ticket.id))
        )
    ).all()
    cases = [
        rules.Case(
            number=ticket.number,
            kind=ticket.kind,
            unit=unit.label if unit else "",
            building=building.name if building else "",
            category=ticket.category,
            text=f"{ticket.description} {ticket.details.get('who', '')}",
            complaint_kind=str(ticket.details.get("kind") or ""),
        )
        for ticket, unit, building in rows
    ]
    events = (
        await session.exec(
            select(TicketEvent, Ticket.number)
            .join(Ticket, col(Ticket.id) == col(TicketEvent.ticket_id))
            .where(
                Ticket.community_id == community_id,
                col(TicketEvent.action).in_(("revisit_ok", "revisit_bad", *REOPENING)),
                col(TicketEvent.at) >= start,
                col(TicketEvent.at) < after,
            )
            .order_by(col(TicketEvent.id))
        )
    ).all()
    revisits = [
        rules.Revisit(
            number=number,
            by=str(event.data.get("by", "")),
            satisfaction=int(event.data.get("satisfaction", 0)),
            fixed=bool(event.data.get("fixed")),
            late=bool(event.data.get("late")),
        )
        for event, number in events
        if event.action in ("revisit_ok", "revisit_bad") and "satisfaction" in event.data
    ]
    reopened = Counter(number for event, number in events if event.action in REOPENING)
    summary = rules.revisit_summary(
        revisits,
        await _unanswered(ctx, community_id, start, after),
        await _visits(ctx, community_id, start, after),
        policy,
    )
    problems = rules.recurring(cases, reopened, themes_of(ctx), policy)
    return {
        "month": month,
        "summary": summary,
        "repairs": sum(1 for c in cases if c.kind == TicketKind.repair),
        "complaints": sum(1 for c in cases if c.kind == TicketKind.complaint),
        "problems": problems,
    }


async def _unanswered(ctx: Context, community_id: int, start: datetime, after: datetime) -> int:
    """Revisit windows that ended in the month with no revisit recorded."""
    done = (
        await ctx.session.exec(
            select(Ticket).where(
                Ticket.community_id == community_id,
                col(Ticket.kind).in_((TicketKind.repair, TicketKind.complaint)),
                col(Ticket.done_at) >= start - UNANSWERED_LOOKBACK,
                col(Ticket.done_at) < after,
            )
        )
    ).all()
    count = 0
    for ticket in done:
        deadline = ticket.details.get("revisit_deadline")
        if not deadline or "revisit" in ticket.details or "last_revisit" in ticket.details:
            continue
        ends = datetime.fromisoformat(deadline)
        if start <= ends < after and ends <= ctx.now:
            count += 1
    return count


async def _visits(
    ctx: Context, community_id: int, start: datetime, after: datetime
) -> list[rules.Visit]:
    rows = (
        await ctx.session.exec(
            select(Ticket).where(
                Ticket.community_id == community_id,
                Ticket.kind == TicketKind.visit,
                col(Ticket.due_at) >= start,
                col(Ticket.due_at) < after,
            )
        )
    ).all()
    found = []
    for ticket in rows:
        done = ticket.status in DONE
        due = ticket.due_at
        late = bool(
            due is not None
            and (
                (done and ticket.done_at is not None and ticket.done_at > due)
                or (ticket.status in OPEN and ctx.now > due)
            )
        )
        outcome = str((ticket.details.get("result") or {}).get("outcome", ""))
        found.append(rules.Visit(ticket.number, done, late, outcome))
    return found


# ---- words ------------------------------------------------------------------------------


def problem_text(finding: dict[str, Any]) -> Text:
    """One recurring problem in words."""
    kind = finding["kind"]
    what: Any = finding["what"]
    if kind in ("unit", "building"):
        what = Text(f"repair.category.{what}")
    elif kind == "complaint_kind":
        what = Text(f"complaint.kind.{what}")
    elif kind == "theme":
        what = Text(f"month_review.theme.{what}")
    shown = finding["tickets"][:6]
    more = "…" if len(finding["tickets"]) > len(shown) else ""
    return Text(
        f"month_review.problem.{kind}",
        {
            "where": finding["where"],
            "what": what,
            "count": finding["count"],
            "tickets": "、".join(shown) + more,
        },
    )


def summary_text(summary: dict[str, int]) -> Text:
    return Text("month_review.summary", dict(summary))


def review_params(review: MonthReview, community: Community) -> dict[str, Any]:
    found = review.findings
    problems = found.get("problems", [])
    top = [
        Text("month_review.problem.line", {"text": problem_text(p)})
        for p in problems[: rules.ReviewPolicy().top]
    ]
    return {
        "community": community.name,
        "month": review.month,
        "summary": summary_text(found.get("summary", {})),
        "repairs": found.get("repairs", 0),
        "complaints": found.get("complaints", 0),
        "count": len(problems),
        "problems": top or Text("month_review.problems.none"),
        "more": Text("month_review.problems.more", {"count": len(problems) - len(top)})
        if len(problems) > len(top)
        else "",
        "comment": review.comment or Text("month_review.comment.none"),
    }


def review_choices(review: MonthReview) -> tuple[Choice, ...]:
    ref = review.id or 0
    choices = [Choice(f"flow:{COMMENT_FLOW}:{ref}", "month_review.btn.comment")]
    if review.status != "forwarded":
        choices.append(Forward(ref).choice("month_review.btn.forward"))
    return tuple(choices)


async def _file(ctx: Context, review: MonthReview, community: Community) -> str:
    """The review's workbook, written (again) with what it holds now; its path."""
    path = review_path(Path(ctx.settings.data_dir) / "reports", community.code, review.month)
    locale = ctx.catalogs.default_locale
    names = await staff_names(ctx, [review.reviewed_by])
    await asyncio.to_thread(
        write_review,
        review,
        community.name,
        names.get(review.reviewed_by, ""),
        lambda key, **params: ctx.catalogs.text(locale, key, params),
        ctx.settings.tz,
        path,
    )
    return str(path.absolute())


async def staff_names(ctx: Context, actors: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for actor in actors:
        if actor.startswith("staff:") and actor[6:].isdigit():
            member = await ctx.session.get(StaffMember, int(actor[6:]))
            if member is not None:
                found[actor] = member.name
    return found


# ---- who sees and acts ------------------------------------------------------------------


def manages_any(ctx: Context) -> bool:
    return any(m.active and m.role in MANAGERS for m in ctx.staff)


def manages(ctx: Context, community_id: int) -> bool:
    return any(
        m.active and m.role in MANAGERS and m.community_id in (None, community_id)
        for m in ctx.staff
    )


async def review_for(ctx: Context, review_id: int) -> tuple[MonthReview, Community] | None:
    """A review the sender may see and act on (a manager of its community)."""
    review = await ctx.session.get(MonthReview, review_id)
    if review is None or not manages(ctx, review.community_id):
        return None
    community = await ctx.session.get(Community, review.community_id)
    assert community is not None
    return review, community


async def reviews(ctx: Context, limit: int = 24) -> list[tuple[MonthReview, Community]]:
    """The latest reviews of the communities the sender manages, newest month first."""
    managed = [m for m in ctx.staff if m.active and m.role in MANAGERS]
    ids: set[int] | None = {m.community_id for m in managed if m.community_id is not None}
    if any(m.community_id is None for m in managed):
        ids = None  # company-wide
    query = (
        select(MonthReview, Community)
        .join(Community, col(Community.id) == col(MonthReview.community_id))
        .order_by(col(MonthReview.month).desc(), col(Community.code))
    )
    if ids is not None:
        if not ids:
            return []
        query = query.where(col(MonthReview.community_id).in_(ids))
    return [(r, c) for r, c in (await ctx.session.exec(query.limit(limit))).all()]


# ---- the supervisor's comment and the forward ---------------------------------------------


async def comment(ctx: Context, review_id: int, text: str) -> list[Reply]:
    """The supervisor's comment (点评) kept on the review."""
    found = await review_for(ctx, review_id)
    if found is None:
        return [Reply("dialog.not_allowed")]
    review, community = found
    review.comment = text[:4000]
    review.reviewed_by = ctx.actor
    review.reviewed_at = ctx.now
    if review.status == "made":
        review.status = "reviewed"
    ctx.session.add(review)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="month_review_comment",
        target=f"month_review:{review.id}",
        now=ctx.now,
    )
    return [
        Reply(
            "month_review.commented",
            {"community": community.name, "month": review.month},
            choices=review_choices(review),
        )
    ]


async def forward(ctx: Context, action: Forward) -> list[Reply]:
    """The review, its comment and its file to the community's directors."""
    found = await review_for(ctx, action.review)
    if found is None:
        return [Reply("dialog.not_allowed")]
    review, community = found
    if review.status == "forwarded":
        return [Reply("month_review.already", {"month": review.month})]
    if not review.comment:
        return [
            Reply(
                "month_review.comment_first",
                {"month": review.month},
                choices=(Choice(f"flow:{COMMENT_FLOW}:{review.id}", "month_review.btn.comment"),),
            )
        ]
    review.status = "forwarded"
    review.forwarded_at = ctx.now
    ctx.session.add(review)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="month_review_forward",
        target=f"month_review:{review.id}",
        now=ctx.now,
    )
    directors = await people_with_role(ctx.session, community.id, "director")
    if not directors:
        return [Reply("month_review.no_director")]
    document = await _file(ctx, review, community)
    names = await staff_names(ctx, [review.reviewed_by])
    params = {
        **review_params(review, community),
        "by": names.get(review.reviewed_by, "—"),
    }
    return [
        Reply("month_review.forwarded", {"month": review.month, "count": len(directors)}),
        *(
            reply
            for chat in directors
            for reply in (
                Reply("month_review.to_director", params, to=chat),
                Reply("month_review.file", {"month": review.month}, to=chat, document=document),
            )
        ),
    ]


async def reviews_command(ctx: Context, argument: str) -> list[Reply]:
    """`/reviews [month]`: the month's review (the latest by default), with its buttons."""
    wanted = argument.strip()
    found = [(r, c) for r, c in await reviews(ctx) if not wanted or r.month == wanted]
    if not found:
        return [Reply("month_review.none")]
    month = found[0][0].month
    return [
        Reply(
            "month_review.made",
            review_params(review, community),
            choices=review_choices(review),
        )
        for review, community in found
        if review.month == month
    ]
