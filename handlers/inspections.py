"""The daily inspection round (日常巡查) in chat: `/inspect` starts today's round for the
service desk, a supervisor or the director (or resumes their open one), item by item over
the community's checklist with 合格 / 不合格 buttons; a failed item asks a note and photos
and becomes a nonconformity slip for the department answerable (handlers/inspections_slips.py),
and the round goes on. It can be paused and resumed, and finishes with a summary.

The checklist is the community's own (`Checklist` "inspection"), edited by its managers on
the desk's page, or the seed's default while it has none. A round keeps the items as they
were when it began, so an edit never changes a round under way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.i18n import LOCALES, Catalogs
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.directory import department_chats
from handlers.rules import inspections as rules
from handlers.staffauth import acting_member
from storage import audit, jobs
from storage.models import (
    Checklist,
    Community,
    Department,
    InspectionRound,
    Job,
    StaffMember,
)

CHECKLIST = "inspection"
FAIL_FLOW = "insp_fail"
REMIND_JOB = "inspection_remind"

# ---- the round's buttons ------------------------------------------------------------------


@dataclass(frozen=True)
class Pass(Action):
    """合格: item number `n` (1-based: a packed number is never 0) of the round passed."""

    name: ClassVar[str] = "insp_ok"
    round: int
    n: int


@dataclass(frozen=True)
class Pause(Action):
    name: ClassVar[str] = "insp_pause"
    round: int


@dataclass(frozen=True)
class Finish(Action):
    name: ClassVar[str] = "insp_end"
    round: int


# ---- who inspects, and where ------------------------------------------------------------


def inspector(ctx: Context, community_id: int) -> StaffMember | None:
    """The sender's record that may inspect this community: its service desk, a supervisor
    or the director (repair, security and the rest are inspected, not inspecting)."""
    return acting_member(ctx, community_id, Department.service)


async def inspector_community(ctx: Context) -> int | None:
    """The community the sender inspects: their own desk's or manager's; a company-wide
    manager's is the first community."""
    for member in ctx.staff:
        if not member.active or (member.role not in MANAGERS and member.department != "service"):
            continue
        if member.community_id is not None:
            return member.community_id
        first = (await ctx.session.exec(select(Community.id).order_by(col(Community.id)))).first()
        if first is not None:
            return int(first)
    return None


# ---- the checklist --------------------------------------------------------------------------


def default_items(catalogs: Catalogs) -> list[dict[str, str]]:
    """The seed's round, worded in the office's language."""
    return [
        rules.item(area, catalogs.text(catalogs.default_locale, key)) for area, key in rules.DEFAULT
    ]


async def stored_checklist(session: AsyncSession, community_id: int) -> Checklist | None:
    return (
        await session.exec(
            select(Checklist).where(
                Checklist.community_id == community_id, Checklist.name == CHECKLIST
            )
        )
    ).first()


async def checklist_items(
    session: AsyncSession, catalogs: Catalogs, community_id: int
) -> tuple[list[dict[str, str]], Checklist | None]:
    """The community's checklist (its own, else the default) and its row, if it has one."""
    own = await stored_checklist(session, community_id)
    if own is not None and own.items:
        items = [rules.item(str(i["area"]), str(i["item"]), i.get("department")) for i in own.items]
        return items, own
    return default_items(catalogs), own


def names(
    catalogs: Catalogs, label: Callable[[str], str], values: tuple[str, ...]
) -> dict[str, str]:
    """Every name people may type for each value (its label's key is `label(value)`: the
    label in each language and its `.words` list), lower case, to the value."""
    found: dict[str, str] = {}
    for value in values:
        found[value] = value
        for locale in LOCALES:
            found[catalogs.text(locale, label(value)).strip().lower()] = value
        for word in catalogs.words(f"{label(value)}.words"):
            found[word.strip().lower()] = value
    return found


def editor_text(catalogs: Catalogs, locale: str, items: list[dict[str, str]]) -> str:
    """The checklist as the editor shows it, one `区域 | 项目 [| 部门]` a line."""
    return rules.checklist_lines(
        items,
        {a: catalogs.text(locale, f"inspect.area.{a}") for a in rules.AREAS},
        {d: catalogs.text(locale, f"department.{d}") for d in rules.DEPARTMENTS},
    )


async def save_checklist(ctx: Context, community_id: int, text: str) -> list[Reply]:
    """A manager keeps the community's checklist as typed; the next round uses it."""
    member = acting_member(ctx, community_id)
    if member is None or member.role not in MANAGERS:
        return [Reply("inspect.checklist.managers_only")]
    try:
        items = rules.read_checklist(
            text,
            names(ctx.catalogs, lambda area: f"inspect.area.{area}", rules.AREAS),
            names(ctx.catalogs, lambda name: f"department.{name}", rules.DEPARTMENTS),
        )
    except rules.ChecklistError as error:
        return [
            Reply(
                f"inspect.checklist.error.{error.reason}",
                {"line": error.line, "text": error.text, "most": rules.MOST_ITEMS},
            )
        ]
    own = await stored_checklist(ctx.session, community_id)
    if own is None:
        own = Checklist(
            community_id=community_id,
            name=CHECKLIST,
            updated_by=ctx.actor,
            updated_at=ctx.now,
        )
    own.items, own.updated_by, own.updated_at = items, ctx.actor, ctx.now
    ctx.session.add(own)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="inspection_checklist",
        target=f"community:{community_id}",
        detail={"items": len(items)},
        now=ctx.now,
    )
    return [Reply("inspect.checklist.saved", {"count": len(items)})]


async def checklist_command(ctx: Context, argument: str) -> list[Reply]:
    """`/checklist`: the community's inspection checklist, by area."""
    community_id = await inspector_community(ctx)
    if community_id is None or inspector(ctx, community_id) is None:
        return [Reply("dialog.not_allowed")]
    items, own = await checklist_items(ctx.session, ctx.catalogs, community_id)
    lines = [item_line(i, one) for i, one in enumerate(items)]
    key = "inspect.checklist.own" if own is not None and own.items else "inspect.checklist.default"
    return [Reply(key, {"count": len(items), "items": lines})]


def item_line(index: int, one: dict[str, Any]) -> Text:
    return Text(
        "inspect.checklist.line",
        {
            "n": index + 1,
            "area": Text(f"inspect.area.{one['area']}"),
            "item": one["item"],
            "department": Text(f"department.{one['department']}"),
        },
    )


# ---- a round ---------------------------------------------------------------------------------


async def open_round(session: AsyncSession, actor: str) -> InspectionRound | None:
    """The sender's round still open (one per person)."""
    return (
        await session.exec(
            select(InspectionRound)
            .where(InspectionRound.by == actor, InspectionRound.status == "open")
            .order_by(col(InspectionRound.id).desc())
        )
    ).first()


async def inspect_command(ctx: Context, argument: str) -> list[Reply]:
    """`/inspect`: today's round, begun over the checklist, or the open one resumed."""
    community_id = await inspector_community(ctx)
    member = inspector(ctx, community_id) if community_id is not None else None
    if community_id is None or member is None:
        return [Reply("dialog.not_allowed")]
    found = await open_round(ctx.session, ctx.actor)
    earlier: list[Reply] = []
    if found is not None and found.started_at < local_day_start(ctx):
        # Left open on an earlier day: closed as it stood, and today's round begins.
        earlier = [
            Reply("inspect.earlier_closed", {"started": found.started_at}),
            close_round(found, ctx.now),
        ]
        ctx.session.add(found)
        found = None
    if found is not None:
        where = rules.standing(found.items, found.results)
        resumed = Reply(
            "inspect.resumed",
            {
                "started": found.started_at,
                "done": where.passed + where.failed,
                "total": len(found.items),
            },
        )
        return [resumed, *next_step(found, ctx.now)]
    items, _ = await checklist_items(ctx.session, ctx.catalogs, community_id)
    started = InspectionRound(
        community_id=community_id,
        by=ctx.actor,
        by_name=member.name,
        items=items,
        results=[],
        started_at=ctx.now,
    )
    ctx.session.add(started)
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="inspection_started",
        target=f"round:{started.id}",
        detail={"items": len(items)},
        now=ctx.now,
    )
    await book_reminder(ctx, community_id, ctx.now)
    return [*earlier, Reply("inspect.started", {"count": len(items)}), *next_step(started, ctx.now)]


def local_day_start(ctx: Context) -> datetime:
    """Midnight of the office's today."""
    local = ctx.now.astimezone(ctx.settings.tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def item_prompt(found: InspectionRound, index: int) -> Reply:
    """One item with its buttons: 合格, 不合格 (asks a note and photos), pause, finish."""
    ref = found.id or 0
    one = found.items[index]
    return Reply(
        "inspect.item",
        {
            "n": index + 1,
            "total": len(found.items),
            "area": Text(f"inspect.area.{one['area']}"),
            "item": one["item"],
            "department": Text(f"department.{one['department']}"),
        },
        choices=(
            Pass(ref, index + 1).choice("inspect.btn.pass"),
            Choice(f"flow:{FAIL_FLOW}:{ref}:{index}", "inspect.btn.fail"),
            Pause(ref).choice("inspect.btn.pause"),
            Finish(ref).choice("inspect.btn.finish"),
        ),
    )


def next_step(found: InspectionRound, now: datetime) -> list[Reply]:
    """The next item to look at, or the summary once every item has an outcome."""
    where = rules.standing(found.items, found.results)
    if where.next_index is None:
        return [close_round(found, now)]
    return [item_prompt(found, where.next_index)]


async def own_round(ctx: Context, round_id: int) -> InspectionRound | list[Reply]:
    """The sender's open round, locked (a double press records once)."""
    found = await ctx.session.get(InspectionRound, round_id, with_for_update=True)
    if found is None or found.by != ctx.actor:
        return [Reply("dialog.stale")]
    if found.status != "open":
        return [Reply("inspect.round.closed")]
    return found


def record(found: InspectionRound, index: int, result: str, **detail: Any) -> None:
    found.results = [*found.results, {"index": index, "result": result, **detail}]


def answered(found: InspectionRound, index: int) -> bool:
    return any(int(r["index"]) == index for r in found.results)


async def passed(ctx: Context, action: Pass) -> list[Reply]:
    found = await own_round(ctx, action.round)
    if isinstance(found, list):
        return found
    index = action.n - 1
    if not 0 <= index < len(found.items):
        return [Reply("dialog.stale")]
    if answered(found, index):
        return [Reply("inspect.item.already", {"n": action.n}), *next_step(found, ctx.now)]
    record(found, index, rules.PASSED, at=ctx.now.isoformat())
    ctx.session.add(found)
    return next_step(found, ctx.now)


async def may_fail(ctx: Context, initial: str) -> tuple[InspectionRound, int] | list[Reply]:
    """The round and item a 不合格 button names (`<round>:<index>`), if still to record."""
    ref, _, raw = initial.partition(":")
    if not (ref.isdigit() and raw.isdigit()) or len(ref) > 12 or len(raw) > 4:
        return [Reply("dialog.stale")]
    found = await own_round(ctx, int(ref))
    if isinstance(found, list):
        return found
    index = int(raw)
    if not 0 <= index < len(found.items):
        return [Reply("dialog.stale")]
    if answered(found, index):
        return [Reply("inspect.item.already", {"n": index + 1}), *next_step(found, ctx.now)]
    return found, index


async def failed(
    ctx: Context, round_id: int, index: int, note: str | None, photos: list[str]
) -> list[Reply]:
    """不合格: the item's nonconformity slip goes to its department; the round goes on."""
    from handlers.inspections_slips import open_slip

    found = await may_fail(ctx, f"{round_id}:{index}")
    if isinstance(found, list):
        return found
    held, index = found
    ticket, cards = await open_slip(ctx, held, index, note or "", photos)
    record(
        held,
        index,
        rules.FAILED,
        at=ctx.now.isoformat(),
        note=note or "",
        photos=photos,
        ticket=ticket.id,
        number=ticket.number,
    )
    ctx.session.add(held)
    one = held.items[index]
    said = Reply(
        "inspect.slip.made",
        {
            "number": ticket.number,
            "department": Text(f"department.{one['department']}"),
            "due": ticket.due_at,
        },
    )
    return [said, *cards, *next_step(held, ctx.now)]


async def pause(ctx: Context, action: Pause) -> list[Reply]:
    found = await own_round(ctx, action.round)
    if isinstance(found, list):
        return found
    where = rules.standing(found.items, found.results)
    return [
        Reply("inspect.paused", {"done": where.passed + where.failed, "total": len(found.items)})
    ]


async def finish(ctx: Context, action: Finish) -> list[Reply]:
    """Finished now: items not looked at are left unchecked, and said so."""
    found = await own_round(ctx, action.round)
    if isinstance(found, list):
        return found
    ctx.session.add(found)
    return [close_round(found, ctx.now)]


def close_round(found: InspectionRound, now: datetime) -> Reply:
    """The round closed, with its summary: passed, failed, unchecked, the slips made."""
    where = rules.standing(found.items, found.results)
    found.status = "finished"
    found.finished_at = now
    slips = [
        Text(
            "inspect.summary.slip",
            {
                "number": r.get("number", ""),
                "item": found.items[int(r["index"])]["item"],
                "department": Text(f"department.{found.items[int(r['index'])]['department']}"),
            },
        )
        for r in found.results
        if r.get("result") == rules.FAILED
    ]
    return Reply(
        "inspect.summary",
        {
            "passed": where.passed,
            "failed": where.failed,
            "unchecked": where.unchecked,
            "slips": slips or Text("inspect.summary.no_slips"),
        },
    )


# ---- the desk reminded on a day without a round ------------------------------------------


async def book_reminder(ctx: Context, community_id: int, after: datetime) -> None:
    """The next reminder of the community's round (once a day, whoever books it): a
    community is reminded only once it has begun doing rounds."""
    due = rules.next_reminder(after, ctx.settings.tz)
    day = due.astimezone(ctx.settings.tz).date().isoformat()
    await jobs.schedule(
        ctx.session,
        kind=REMIND_JOB,
        due_at=due,
        payload={"community": community_id},
        dedupe_key=f"{REMIND_JOB}:{community_id}:{day}",
    )


async def remind(ctx: Context, job: Job) -> list[Reply]:
    """No round yet today: the service desk's groups are reminded; tomorrow's is booked."""
    community_id = int(job.payload.get("community", 0))
    if await ctx.session.get(Community, community_id) is None:
        return []
    await book_reminder(ctx, community_id, ctx.now + timedelta(minutes=1))
    today = (
        await ctx.session.exec(
            select(InspectionRound.id).where(
                InspectionRound.community_id == community_id,
                col(InspectionRound.started_at) >= local_day_start(ctx),
            )
        )
    ).first()
    if today is not None:
        return []
    return [
        Reply("inspect.remind", to=chat)
        for chat in await department_chats(ctx.session, community_id, Department.service)
    ]
