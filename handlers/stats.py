"""Supervisors' figures: `/stats`, `/overdue` and `/ticket` (a ticket's full history).

Counts come from one GROUP BY over the period's tickets (a few hundred rows at most,
however many tickets there are); medians from per-ticket durations that PostgreSQL
takes with `percentile_cont` and SQLite with ORDER BY/OFFSET (see `medians`). A
supervisor of one community sees that community; a company-wide one sees all, or
the community named by its code (`/stats 2026-11 XFL`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, case, cast, extract, func, literal
from sqlalchemy import select as select_many
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.cards import charge_text
from handlers.complaint import KIND_LABELS, SEVERITY_LABELS
from handlers.core.context import Context
from handlers.core.messages import Money, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.rules import stats as rules
from handlers.rules.lifecycle import REVISITABLE
from handlers.rules.stats import Bucket, Figures, Period, PeriodError
from handlers.staffauth import acting_member
from handlers.work_orders import what_text
from storage import audit, tickets
from storage.models import Community, Person, StaffMember, Ticket, TicketEvent

# Community ids a supervisor may see; None: every community (a company-wide supervisor).
Scope = tuple[int, ...] | None

OVERDUE_LINES = 30
HISTORY_EVENTS = 60


@dataclass(frozen=True)
class Audience:
    """Whose tickets a command looks at, and how to name them."""

    scope: Scope
    name: Any  # the community's name, or "all communities"
    code: str  # for file names: `XFL`, `XFL+HYY` or `all`


# ---- queries ---------------------------------------------------------------------------


def _in_scope(scope: Scope) -> list[ColumnElement[bool]]:
    return [] if scope is None else [col(Ticket.community_id).in_(scope)]


def in_period(scope: Scope, period: Period) -> list[ColumnElement[bool]]:
    """Tickets created in the period, in the scope (uses the community/created index)."""
    return [
        *_in_scope(scope),
        col(Ticket.created_at) >= period.start,
        col(Ticket.created_at) < period.end,
    ]


def satisfaction() -> ColumnElement[Any]:
    """The latest revisit's score; a bad one that sent the job back stays as `last_revisit`."""
    details = col(Ticket.details)
    return func.coalesce(
        details[("revisit", "satisfaction")].as_integer(),
        details[("last_revisit", "satisfaction")].as_integer(),
    )


def _flag(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def revisit_late() -> ColumnElement[Any]:
    """1 when the latest revisit was done after its window's end, else 0."""
    details = col(Ticket.details)
    return func.coalesce(
        details[("revisit", "late")].as_integer(),
        details[("last_revisit", "late")].as_integer(),
        0,
    )


def revisit_overdue(now: datetime) -> ColumnElement[bool]:
    """Finished work whose revisit window has ended with no revisit recorded. The window's
    end is kept as a UTC ISO string, so comparing strings compares times."""
    details = col(Ticket.details)
    return (
        col(Ticket.status).in_(REVISITABLE)
        & details["revisit"].as_string().is_(None)
        & (details["revisit_deadline"].as_string() < now.astimezone(UTC).isoformat())
    )


async def buckets(
    session: AsyncSession, scope: Scope, period: Period, now: datetime
) -> list[Bucket]:
    """The period's tickets counted by kind, status, category and department, in one scan."""
    score = satisfaction()
    finished_at = func.coalesce(col(Ticket.done_at), col(Ticket.closed_at))
    keys = (col(Ticket.kind), col(Ticket.status), col(Ticket.category), col(Ticket.department))
    stmt = (
        select_many(
            *keys,
            func.count(),
            _flag(col(Ticket.done_at).is_not(None)),
            _flag(col(Ticket.reopen_count) > 0),
            func.count(score),
            func.coalesce(func.sum(score), 0),
            _flag(col(Ticket.status).in_(rules.OPEN_STATUSES) & (col(Ticket.due_at) < now)),
            _flag(finished_at > col(Ticket.due_at)),
            func.sum(revisit_late()),
            _flag(revisit_overdue(now)),
        )
        .where(*in_period(scope, period))
        .group_by(*keys)
    )
    connection = await session.connection()  # typed Core rows: more columns than select() takes
    rows = (await connection.execute(stmt)).all()
    return [
        Bucket(
            kind=kind,
            status=status,
            category=category or "",
            department=department,
            count=int(count),
            finished=int(finished or 0),
            reopened=int(reopened or 0),
            revisited=int(revisited or 0),
            satisfaction_sum=int(score_sum or 0),
            overdue_open=int(overdue or 0),
            finished_late=int(late or 0),
            revisited_late=int(revisited_late or 0),
            revisit_overdue=int(revisit_due or 0),
        )
        for (
            kind,
            status,
            category,
            department,
            count,
            finished,
            reopened,
            revisited,
            score_sum,
            overdue,
            late,
            revisited_late,
            revisit_due,
        ) in rows
    ]


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def duration(session: AsyncSession, start: Any, end: Any) -> ColumnElement[Any]:
    """Seconds from `start` to `end` in SQL, on either backend."""
    if _dialect(session) == "postgresql":
        # As float: `extract` gives numeric, slower to sort and to read as Decimal.
        return cast(extract("epoch", end) - extract("epoch", start), Float)
    # SQLite keeps times as text; julianday reads them, in days.
    return (func.julianday(end) - func.julianday(start)) * 86400.0


Medians = dict[str, list[float | None]]  # group → one median per end, in seconds


async def medians(
    session: AsyncSession,
    where: Sequence[ColumnElement[bool]],
    start: Any,
    ends: Sequence[Any],
    group: Any = None,
) -> Medians:
    """Per `group` (all under "" without one), the median of `end - start` for each of
    `ends`, over the rows where that end is set.

    PostgreSQL takes them all in one scan (`percentile_cont` skips unset ends' NULLs).
    SQLite has no percentile function: without a group, a count and then a sorted query
    per end that reads only the middle rows, so a long `/stats` period costs no memory
    here; per group (a `/report` month), one read of the durations, the middles taken
    here, instead of a sorted query per group.
    """
    if _dialect(session) == "postgresql":
        return await _percentiles(session, where, start, ends, group)
    if group is None:
        return {"": await _middles(session, where, start, ends)}
    return await _read_medians(session, where, start, ends, group)


async def _percentiles(
    session: AsyncSession, where: Sequence[Any], start: Any, ends: Sequence[Any], group: Any
) -> Medians:
    measures = [
        func.percentile_cont(0.5).within_group(duration(session, start, end)) for end in ends
    ]
    stmt = select_many(literal("") if group is None else group, *measures).where(*where)
    if group is not None:
        stmt = stmt.group_by(group)
    connection = await session.connection()  # typed Core rows: any number of columns
    return {
        name or "": [None if value is None else float(value) for value in values]
        for name, *values in (await connection.execute(stmt)).all()
    }


async def _middles(
    session: AsyncSession, where: Sequence[Any], start: Any, ends: Sequence[Any]
) -> list[float | None]:
    connection = await session.connection()
    counts = (
        await connection.execute(select_many(*(func.count(end) for end in ends)).where(*where))
    ).one()
    found: list[float | None] = []
    for end, count in zip(ends, counts, strict=True):
        if not count:
            found.append(None)
            continue
        offset, take = rules.middle_offset(int(count))
        seconds = duration(session, start, end)
        middle = (
            await session.exec(
                select(seconds)
                .where(*where, end.is_not(None))
                .order_by(seconds)
                .offset(offset)
                .limit(take)
            )
        ).all()
        found.append(sum(float(v) for v in middle) / len(middle))
    return found


async def _read_medians(
    session: AsyncSession, where: Sequence[Any], start: Any, ends: Sequence[Any], group: Any
) -> Medians:
    durations = [duration(session, start, end) for end in ends]
    values: dict[str, list[list[float]]] = defaultdict(lambda: [[] for _ in ends])
    connection = await session.connection()
    for name, *seconds in await connection.execute(select_many(group, *durations).where(*where)):
        for index, value in enumerate(seconds):
            if value is not None:
                values[name or ""][index].append(float(value))
    return {
        name: [rules.median(sorted(one)) for one in per_end] for name, per_end in values.items()
    }


async def figures(session: AsyncSession, scope: Scope, period: Period, now: datetime) -> Figures:
    """Everything `/stats` says about tickets created in the period."""
    where = in_period(scope, period)
    ends = (col(Ticket.accepted_at), col(Ticket.done_at))
    accept, finish = (await medians(session, where, col(Ticket.created_at), ends))[""]
    return rules.summarize(await buckets(session, scope, period, now), accept, finish)


async def overdue(
    session: AsyncSession, scope: Scope, now: datetime, limit: int = OVERDUE_LINES
) -> tuple[int, list[tuple[Ticket, str | None]]]:
    """Open tickets past due, the latest-due last, with their assignee's name; and how many."""
    late = [
        *_in_scope(scope),
        col(Ticket.status).in_(rules.OPEN_STATUSES),
        col(Ticket.due_at) < now,
    ]
    total = (await session.exec(select(func.count()).select_from(Ticket).where(*late))).one()
    rows = await session.exec(
        select(Ticket, StaffMember.name)
        .outerjoin(StaffMember, col(StaffMember.id) == col(Ticket.assignee_id))
        .where(*late)
        .order_by(col(Ticket.due_at), col(Ticket.created_at), col(Ticket.id))
        .limit(limit)
    )
    return int(total), [(ticket, name) for ticket, name in rows.all()]


# ---- who sees what ----------------------------------------------------------------------


def manager_scope(ctx: Context) -> Scope:
    """The communities the sender supervises; None when they supervise the whole company."""
    members = [m for m in ctx.staff if m.active and m.role in MANAGERS]
    if any(m.community_id is None for m in members):
        return None
    return tuple(sorted({m.community_id for m in members if m.community_id is not None}))


async def audience(
    session: AsyncSession, scope: Scope, code: str | None, all_label: Any
) -> Audience | Reply:
    """The communities to report on: the sender's scope, narrowed to `code` if given."""
    if code is not None:
        found = (
            await session.exec(select(Community).where(Community.code == code.upper()))
        ).first()
        if found is None or found.id is None:
            return Reply("supervisor.error.community", {"code": code})
        if scope is not None and found.id not in scope:
            return Reply("dialog.not_allowed")
        return Audience((found.id,), found.name, found.code)
    if scope is None:
        return Audience(None, all_label, "all")
    communities = (
        await session.exec(
            select(Community).where(col(Community.id).in_(scope)).order_by(col(Community.code))
        )
    ).all()
    return Audience(
        scope, "、".join(c.name for c in communities), "+".join(c.code for c in communities)
    )


def split_argument(argument: str) -> tuple[str, str | None]:
    """`2026-11 XFL` → ("2026-11", "XFL"): a trailing community code, if any."""
    words = argument.split()
    if len(words) > 0 and rules.is_community_code(words[-1]):
        return " ".join(words[:-1]), words[-1]
    return argument, None


async def resolve(
    ctx: Context, argument: str, month_only: bool = False
) -> tuple[Audience, Period] | Reply:
    """The audience and period a command argument names, or the reply that refuses it."""
    period_text, code = split_argument(argument)
    today = ctx.now.astimezone(ctx.settings.tz).date()
    try:
        period = rules.parse_period(period_text, today, ctx.settings.tz)
    except PeriodError:
        return Reply("supervisor.error.month" if month_only else "supervisor.error.period")
    if month_only and not rules.is_month(period):
        return Reply("supervisor.error.month")
    found = await audience(ctx.session, manager_scope(ctx), code, Text("supervisor.all"))
    if isinstance(found, Reply):
        return found
    return found, period


async def record_use(ctx: Context, action: str, target: str, **detail: Any) -> None:
    """Supervisors' look-ups are audit-logged: figures and histories carry residents' data."""
    await audit.record(
        ctx.session, actor=ctx.actor, action=action, target=target, detail=detail, now=ctx.now
    )


# ---- what is said -----------------------------------------------------------------------


def minutes_text(minutes: int | None) -> Any:
    if minutes is None:
        return Text("supervisor.none")
    hours, rest = rules.hours_minutes(minutes)
    if hours == 0:
        return Text("supervisor.dur.m", {"minutes": rest})
    return Text("supervisor.dur.hm", {"hours": hours, "minutes": rest})


def lateness_text(seconds: float) -> Any:
    days, hours, minutes = rules.days_hours(seconds)
    if days == 0:
        return minutes_text(hours * 60 + minutes)
    return Text("supervisor.dur.dh", {"days": days, "hours": hours})


def _items(counts: dict[str, int], label: str) -> Any:
    """One line per counted value; `label` is the catalog key with `{}` for the value."""
    if not counts:
        return Text("supervisor.stats.nothing")
    return [
        Text("supervisor.stats.item", {"name": Text(label.format(name)), "count": count})
        for name, count in counts.items()
    ]


def _rate(rate: Any, part: int, whole: int) -> Any:
    if rate is None:
        return Text("supervisor.none")
    return Text("supervisor.stats.rate", {"rate": rate, "part": part, "whole": whole})


def stats_reply(found: Audience, period: Period, numbers: Figures) -> Reply:
    """The figures as one message; `/report` sends the same one with its files."""
    return Reply(
        "supervisor.stats",
        {
            "scope": found.name,
            "first": period.first,
            "last": period.last,
            "total": numbers.total,
            "kinds": _items(numbers.by_kind, "kind.{}"),
            "statuses": _items(numbers.by_status, "status.{}"),
            "categories": _items(numbers.by_category, "repair.category.{}"),
            "accept": minutes_text(numbers.median_accept),
            "finish": minutes_text(numbers.median_finish),
            "overdue": numbers.overdue_open,
            "late": numbers.finished_late,
            "revisit": _rate(
                numbers.revisit_rate,
                numbers.revisited - numbers.revisited_late,
                numbers.revisits_owed,
            ),
            "revisit_pending": numbers.revisits_pending,
            "revisit_late": numbers.revisited_late + numbers.revisit_overdue,
            "revisited_late": numbers.revisited_late,
            "revisit_overdue": numbers.revisit_overdue,
            "satisfaction": numbers.satisfaction
            if numbers.satisfaction is not None
            else Text("supervisor.none"),
            "reopen": _rate(numbers.reopen_rate, numbers.reopened, numbers.finished),
        },
    )


# ---- commands ------------------------------------------------------------------------------


async def stats_command(ctx: Context, argument: str) -> list[Reply]:
    """`/stats [period] [community]`: counts, medians, overdue, revisits, reopens."""
    resolved = await resolve(ctx, argument)
    if isinstance(resolved, Reply):
        return [resolved]
    found, period = resolved
    numbers = await figures(ctx.session, found.scope, period, ctx.now)
    await record_use(ctx, "stats", period.label, community=found.code, total=numbers.total)
    if numbers.total == 0:  # an empty period says so, instead of a page of zeros
        return [
            Reply(
                "report.nothing", {"scope": found.name, "first": period.first, "last": period.last}
            )
        ]
    from handlers.inspections_slips import slip_figures

    slips = await slip_figures(ctx.session, found.scope, period.start, period.end, ctx.now)
    return [stats_reply(found, period, numbers), *([slips] if slips else [])]


async def overdue_command(ctx: Context, argument: str) -> list[Reply]:
    """`/overdue [community]`: open tickets past due, the most overdue first."""
    code = argument.split()[-1] if argument.split() else None
    found = await audience(ctx.session, manager_scope(ctx), code, Text("supervisor.all"))
    if isinstance(found, Reply):
        return [found]
    total, rows = await overdue(ctx.session, found.scope, ctx.now)
    await record_use(ctx, "overdue", found.code, count=total)
    if total == 0:
        return [Reply("supervisor.overdue.none", {"scope": found.name})]
    lines: list[Any] = [
        Text(
            "supervisor.overdue.line",
            {
                "number": ticket.number,
                "kind": Text(f"kind.{ticket.kind}"),
                "department": Text(f"department.{ticket.department}"),
                "assignee": name or Text("supervisor.nobody"),
                "late": lateness_text((ctx.now - ticket.due_at).total_seconds())
                if ticket.due_at
                else "",
            },
        )
        for ticket, name in rows
    ]
    if total > len(rows):
        lines.append(Text("supervisor.overdue.more", {"count": total - len(rows)}))
    return [Reply("supervisor.overdue", {"scope": found.name, "count": total, "lines": lines})]


def _ids(events: Sequence[TicketEvent], prefix: str) -> set[int]:
    """The ids in actors such as `staff:12` (the history's way of naming people)."""
    return {
        int(e.actor[len(prefix) :])
        for e in events
        if e.actor.startswith(prefix) and e.actor[len(prefix) :].isdigit()
    }


async def _actors(session: AsyncSession, events: Sequence[TicketEvent]) -> dict[str, Any]:
    """How each actor of a history is named: staff and residents by name."""
    staff_ids = {
        int(e.actor[6:]) for e in events if e.actor[6:].isdigit() and e.actor[:6] == "staff:"
    }
    person_ids = {
        int(e.actor[7:]) for e in events if e.actor[:7] == "person:" and e.actor[7:].isdigit()
    }
    names: dict[str, Any] = {"system": Text("supervisor.actor.system")}
    if staff_ids:
        for member in (
            await session.exec(select(StaffMember).where(col(StaffMember.id).in_(staff_ids)))
        ).all():
            names[f"staff:{member.id}"] = member.name
    if person_ids:
        for person in (
            await session.exec(select(Person).where(col(Person.id).in_(person_ids)))
        ).all():
            names[f"person:{person.id}"] = person.name
    return names


STEP_LABELS = {
    "warning": "supervisor.step.warning",
    "group": "supervisor.step.group",
    "supervisor": "supervisor.step.supervisor",
    "director": "supervisor.step.director",
    "unanswered": "supervisor.step.unanswered",
}
WATCH_LABELS = {
    "escalated": "supervisor.watch.work",
    "escalated_revisit": "supervisor.watch.revisit",
    "escalated_leak": "supervisor.watch.leak",
}


def _labelled(value: Any, labels: Mapping[str, str]) -> Any:
    return Text(labels[value]) if value in labels else (value or Text("supervisor.none"))


def _event_detail(event: TicketEvent, names: dict[str, Any]) -> Any:
    """What an event's data says, in words: the charge, who to whom, which step, the score."""
    data = event.data or {}
    if event.action == "done" and data.get("amount"):
        return Text("supervisor.detail.amount", {"amount": Money(Decimal(str(data["amount"])))})
    if event.action == "transfer":
        return Text(
            "supervisor.detail.moved",
            {
                "from": Text(f"department.{data.get('from')}"),
                "to": Text(f"department.{data.get('to')}"),
            },
        )
    if event.action == "handover":
        return Text(
            "supervisor.detail.moved",
            {
                "from": names.get(f"staff:{data.get('from')}", "?"),
                "to": names.get(f"staff:{data.get('to')}", "?"),
            },
        )
    if event.action in ("complaint_kind", "complaint_severity"):
        labels = KIND_LABELS if event.action == "complaint_kind" else SEVERITY_LABELS
        return Text(
            "supervisor.detail.moved",
            {"from": _labelled(data.get("from"), labels), "to": _labelled(data.get("to"), labels)},
        )
    if event.action == "escalated":
        return Text(
            "supervisor.detail.step",
            {
                "watch": Text(
                    WATCH_LABELS.get(data.get("watch", "escalated"), "supervisor.watch.work")
                ),
                "step": _labelled(data.get("step"), STEP_LABELS),
            },
        )
    if event.action in ("revisit_ok", "revisit_bad") and "satisfaction" in data:
        return Text(
            "supervisor.detail.revisit",
            {
                "score": data["satisfaction"],
                "fixed": Text("revisit.fixed.yes" if data.get("fixed") else "revisit.fixed.no"),
                "late": Text("supervisor.detail.late") if data.get("late") else "",
            },
        )
    return ""


def _event_line(event: TicketEvent, names: dict[str, Any]) -> Text:
    action = (
        Text(f"supervisor.action.{event.action}")
        if event.action in rules.HISTORY_ACTIONS
        else event.action
    )
    change: Any = ""
    if event.to_status and event.to_status != event.from_status:
        change = Text(
            "supervisor.ticket.change",
            {
                "from": Text(f"status.{event.from_status}")
                if event.from_status
                else Text("supervisor.none"),
                "to": Text(f"status.{event.to_status}"),
            },
        )
    note = Text("supervisor.ticket.note", {"note": event.note}) if event.note else ""
    return Text(
        "supervisor.ticket.event",
        {
            "at": event.at,
            "actor": names.get(event.actor, event.actor),
            "action": action,
            "detail": _event_detail(event, names),
            "change": change,
            "note": note,
        },
    )


def what_it_is(ticket: Ticket) -> Any:
    """A ticket's particulars in a few words, by kind: a repair's category, urgency and
    charge; a complaint's kind and severity; a fee request's type and amount."""
    d = ticket.details
    if ticket.kind == "complaint" and d.get("kind") in KIND_LABELS:
        return Text(
            "supervisor.about.complaint",
            {
                "kind": Text(KIND_LABELS[d["kind"]]),
                "severity": _labelled(d.get("severity"), SEVERITY_LABELS),
            },
        )
    if ticket.kind == "repair":
        return Text(
            "supervisor.about.repair",
            {
                "category": Text(f"repair.category.{ticket.category}")
                if ticket.category
                else Text("supervisor.none"),
                "urgent": Text("supervisor.about.urgent", {"what": what_text(ticket)})
                if ticket.urgent
                else "",
                "charge": charge_text(ticket),
            },
        )
    if ticket.kind == "fee" and d.get("type"):
        amount = (
            Text("supervisor.detail.amount", {"amount": Money(ticket.amount)})
            if ticket.amount
            else ""
        )
        return Text(
            "supervisor.about.fee", {"type": Text(f"fee.type.{d['type']}"), "amount": amount}
        )
    return Text("supervisor.none")


async def history_reply(session: AsyncSession, ticket: Ticket) -> Reply:
    assert ticket.id is not None
    events = await tickets.history(session, ticket.id)
    shown = events[-HISTORY_EVENTS:]
    names = await _actors(session, shown)
    assignee = await session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    community = await session.get(Community, ticket.community_id)
    lines: list[Any] = []
    if len(events) > len(shown):
        lines.append(Text("supervisor.ticket.earlier", {"count": len(events) - len(shown)}))
    lines += [_event_line(event, names) for event in shown]
    return Reply(
        "supervisor.ticket",
        {
            "number": ticket.number,
            "community": community.name if community else "",
            "kind": Text(f"kind.{ticket.kind}"),
            "status": Text(f"status.{ticket.status}"),
            "department": Text(f"department.{ticket.department}"),
            "category": what_it_is(ticket),
            "description": ticket.description,
            "assignee": assignee.name if assignee else Text("supervisor.nobody"),
            "due": ticket.due_at,
            "reopened": ticket.reopen_count,
            "events": lines,
        },
    )


async def ticket_command(ctx: Context, argument: str) -> list[Reply]:
    """`/ticket <number> [community]`: every change of one ticket, for those who may see it."""
    number, code = split_argument(argument)
    number = number.strip().upper()
    if not number:
        return [Reply("supervisor.ticket.usage")]
    query = select(Ticket).where(Ticket.number == number)
    if code is not None:
        query = query.join(Community, col(Community.id) == col(Ticket.community_id)).where(
            Community.code == code.upper()
        )
    found = (await ctx.session.exec(query.order_by(col(Ticket.community_id)))).all()
    visible = [t for t in found if acting_member(ctx, t.community_id, t.department) is not None]
    await record_use(ctx, "ticket_history", number, shown=len(visible), found=len(found))
    if not found:
        return [Reply("supervisor.ticket.not_found", {"number": number})]
    if not visible:
        return [Reply("dialog.not_allowed")]
    return [await history_reply(ctx.session, ticket) for ticket in visible]
