"""The desk's cash ledger in use (钱款录入, 日结, 银行解款): entries typed at the desk, a day's
page with its sums, the day closed with the cash counted and the bank deposit, reviewed
and locked by a supervisor, or reopened by one with a reason.

Entries are written only through `handlers/ledger_entries.py` (fees paid with `/paid` and
renovations' waste-removal fees arrive the same way). Who may: a community's service desk
and its managers enter, correct and close; only managers (supervisors, directors) lock
and reopen. A difference at closing (the cash counted against the cash expected, the
deposit against the cash counted) is pushed to the community's supervisors at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import func
from sqlmodel import col, select

from handlers import ledger_entries
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Money, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.directory import people_with_role, unit_by_label
from handlers.documents.ledger import Sheets
from handlers.rules import ledger as rules
from handlers.rules.dates import read_day
from handlers.rules.fees import parse_amount
from handlers.staffauth import acting_member
from storage import audit
from storage.models import Community, Department, LedgerDay, LedgerEntry, StaffMember, Unit

OPEN, CLOSED, LOCKED = "open", "closed", "locked"


@dataclass(frozen=True)
class LockDay(Action):
    """The supervisor's button on a closed day: reviewed, locked for good."""

    name: ClassVar[str] = "ledger_lock"
    day: int


@dataclass
class DayPage:
    """One community's day: its entries (oldest first), their sums and its close."""

    community: Community
    day: date
    entries: list[LedgerEntry]
    summary: rules.Summary
    row: LedgerDay | None
    units: dict[int, str]

    @property
    def status(self) -> str:
        return self.row.status if self.row else OPEN


# ---- who, where --------------------------------------------------------------------------


def desk_of(ctx: Context, community_id: int) -> bool:
    return acting_member(ctx, community_id, Department.service) is not None


def supervises(ctx: Context, community_id: int) -> bool:
    member = acting_member(ctx, community_id)
    return member is not None and member.role in MANAGERS


async def desk_communities(ctx: Context) -> list[Community]:
    """The communities whose ledger the sender keeps (their service desk, or managers)."""
    found = await ctx.session.exec(select(Community).order_by(col(Community.id)))
    return [c for c in found.all() if c.id is not None and desk_of(ctx, c.id)]


def today(ctx: Context) -> date:
    return rules.business_day(ctx.now, ctx.settings.tz)


def amounts(entries: Sequence[LedgerEntry]) -> list[rules.Amount]:
    return [rules.as_amount(e.direction, e.purpose, e.method, e.amount) for e in entries]


async def day_row(ctx: Context, community_id: int, day: date) -> LedgerDay | None:
    found = await ctx.session.exec(
        select(LedgerDay).where(LedgerDay.community_id == community_id, LedgerDay.day == day)
    )
    return found.first()


async def entries_between(
    ctx: Context, community_id: int, first: date, last: date
) -> list[LedgerEntry]:
    found = await ctx.session.exec(
        select(LedgerEntry)
        .where(
            LedgerEntry.community_id == community_id,
            col(LedgerEntry.day) >= first,
            col(LedgerEntry.day) <= last,
        )
        .order_by(col(LedgerEntry.day), col(LedgerEntry.at), col(LedgerEntry.id))
    )
    return list(found.all())


async def day_page(ctx: Context, community: Community, day: date) -> DayPage:
    assert community.id is not None
    entries = await entries_between(ctx, community.id, day, day)
    unit_ids = {e.unit_id for e in entries if e.unit_id is not None}
    units: dict[int, str] = {}
    if unit_ids:
        found = await ctx.session.exec(select(Unit).where(col(Unit.id).in_(unit_ids)))
        units = {u.id: u.label for u in found.all() if u.id is not None}
    return DayPage(
        community=community,
        day=day,
        entries=entries,
        summary=rules.summarize(amounts(entries)),
        row=await day_row(ctx, community.id, day),
        units=units,
    )


async def days_between(ctx: Context, community_id: int, first: date, last: date) -> list[LedgerDay]:
    found = await ctx.session.exec(
        select(LedgerDay)
        .where(
            LedgerDay.community_id == community_id,
            col(LedgerDay.day) >= first,
            col(LedgerDay.day) <= last,
        )
        .order_by(col(LedgerDay.day).desc())
    )
    return list(found.all())


# ---- what the desk is shown -------------------------------------------------------------


def _joined(parts: Sequence[Any], key: str = "ledger.join", empty: Any = "") -> Any:
    if not parts:
        return Text("ledger.none") if empty == "" else empty
    result = parts[-1]
    for part in reversed(parts[:-1]):
        result = Text(key, {"first": part, "rest": result})
    return result


def purpose_label(name: str) -> Text:
    return Text(f"ledger.purpose.{name}")


def method_label(name: str) -> Text:
    return Text(f"ledger.method.{name}")


def _sums(sums: dict[str, Decimal], label: Callable[[str], Text]) -> Any:
    return _joined(
        [
            Text("ledger.sum", {"name": label(name), "amount": Money(value)})
            for name, value in sums.items()
        ],
        "ledger.join_inline",
    )


def entry_line(entry: LedgerEntry, units: dict[int, str]) -> Text:
    return Text(
        "ledger.entry.line",
        {
            "receipt": entry.receipt,
            "direction": Text(f"ledger.direction.{entry.direction}"),
            "amount": Money(entry.amount),
            "purpose": purpose_label(entry.purpose),
            "method": method_label(entry.method),
            "payer": entry.payer or "—",
            "unit": units.get(entry.unit_id, "—") if entry.unit_id else "—",
            "corrects": Text("ledger.entry.corrects") if entry.corrects_id else "",
        },
    )


def summary_params(summary: rules.Summary) -> dict[str, Any]:
    return {
        "by_method": _sums(summary.by_method, method_label),
        "income": _sums(summary.income, purpose_label),
        "expenses": _sums(summary.expenses, purpose_label),
        "net": Money(summary.net),
        "cash_expected": Money(summary.cash_expected),
    }


def page_reply(page: DayPage) -> Reply:
    return Reply(
        "ledger.page",
        {
            "community": page.community.name,
            "day": page.day.isoformat(),
            "status": Text(f"ledger.status.{page.status}"),
            "count": len(page.entries),
            "entries": _joined([entry_line(e, page.units) for e in page.entries]),
            **summary_params(page.summary),
        },
    )


# ---- entries ----------------------------------------------------------------------------


async def add_line(ctx: Context, community: Community, line: rules.Line) -> list[Reply]:
    """One entry as the desk typed it (or filled in on the page), on today's page."""
    assert community.id is not None
    if not desk_of(ctx, community.id):
        return [Reply("dialog.not_allowed")]
    unit_id = None
    if line.unit:
        unit = await unit_by_label(ctx.session, community.id, line.unit)
        if unit is None:
            return [Reply("ledger.error.unit", {"unit": line.unit[:50]})]
        unit_id = unit.id
    entry = await ledger_entries.record(
        ctx,
        community_id=community.id,
        receipt=line.receipt.upper(),
        purpose=line.purpose,
        method=line.method,
        amount=line.amount,
        payer=line.payer,
        unit_id=unit_id,
        source="desk",
        direction=line.direction,
        note=line.note,
    )
    if isinstance(entry, ledger_entries.Refused):
        return [Reply(entry.key, {"receipt": line.receipt[:50]})]
    page = await day_page(ctx, community, entry.day)
    return [
        Reply(
            "ledger.recorded",
            {
                "entry": entry_line(entry, page.units),
                "net": Money(page.summary.net),
                "cash_expected": Money(page.summary.cash_expected),
            },
        )
    ]


async def correct_entry(
    ctx: Context, community: Community, old_receipt: str, new_receipt: str, note: str
) -> list[Reply]:
    """A correction on today's page that undoes an entry (of any day) by its receipt."""
    assert community.id is not None
    if not desk_of(ctx, community.id):
        return [Reply("dialog.not_allowed")]
    found = await ctx.session.exec(
        select(LedgerEntry).where(
            LedgerEntry.community_id == community.id,
            LedgerEntry.receipt == old_receipt.strip().upper(),
        )
    )
    entry = found.first()
    if entry is None:
        return [Reply("ledger.error.no_entry", {"receipt": old_receipt[:50]})]
    if not note.strip():
        return [Reply("ledger.error.reason")]
    made = await ledger_entries.correct(ctx, entry, new_receipt.strip().upper(), note.strip())
    if isinstance(made, ledger_entries.Refused):
        return [Reply(made.key, {"receipt": new_receipt[:50]})]
    page = await day_page(ctx, community, made.day)
    return [
        Reply(
            "ledger.corrected",
            {
                "old": entry.receipt,
                "entry": entry_line(made, page.units),
                "cash_expected": Money(page.summary.cash_expected),
            },
        )
    ]


# ---- the day closed, locked, reopened ----------------------------------------------------


@dataclass(frozen=True)
class Close:
    """What the desk gives at closing: the cash counted and the deposit with its slip."""

    counted: Decimal
    deposited: Decimal
    deposit_ref: str
    note: str = ""


async def close_day(ctx: Context, community: Community, day: date, close: Close) -> list[Reply]:
    """日结: the day's sums fixed, the cash counted and the deposit compared; the desk sees
    the close, the supervisors get it with the lock button (flagged when not square)."""
    assert community.id is not None
    if not desk_of(ctx, community.id):
        return [Reply("dialog.not_allowed")]
    if day > today(ctx):
        return [Reply("ledger.error.future")]
    if close.deposited > 0 and not close.deposit_ref.strip():
        return [Reply("ledger.error.deposit_ref")]
    row = await day_row(ctx, community.id, day)
    if row is not None and row.status != OPEN:
        already = (
            "ledger.error.already_locked" if row.status == LOCKED else "ledger.error.already_closed"
        )
        return [Reply(already, {"day": day.isoformat()})]
    page = await day_page(ctx, community, day)
    diff = rules.differences(page.summary.cash_expected, close.counted, close.deposited)
    row = row or LedgerDay(community_id=community.id, day=day)
    row.status = CLOSED
    row.totals = {
        **page.summary.as_json(),
        "entries": len(page.entries),
        "deposit_difference": str(diff.deposited),
    }
    row.cash_expected = page.summary.cash_expected
    row.cash_counted = close.counted
    row.deposited = close.deposited
    row.deposit_ref = close.deposit_ref.strip()[:100]
    row.difference = diff.counted
    row.closed_by, row.closed_at = ctx.actor, ctx.now
    row.note = close.note.strip()[:500]
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="ledger_closed",
        target=f"ledger:{community.id}:{day.isoformat()}",
        detail={
            "counted": str(close.counted),
            "expected": str(page.summary.cash_expected),
            "deposited": str(close.deposited),
            "deposit_ref": row.deposit_ref,
            "difference": str(diff.counted),
            "deposit_difference": str(diff.deposited),
        },
        now=ctx.now,
    )
    params = {
        "community": community.name,
        "day": day.isoformat(),
        "count": len(page.entries),
        **summary_params(page.summary),
        "counted": Money(close.counted),
        "deposited": Money(close.deposited),
        "deposit_ref": row.deposit_ref or "—",
        "difference": Money(diff.counted),
        "deposit_difference": Money(diff.deposited),
        "flag": Text("ledger.close.flag") if diff.flagged else Text("ledger.close.square"),
    }
    assert row.id is not None
    lock = LockDay(day=row.id).choice("ledger.lock.button")
    told = [
        Reply("ledger.close.review", params, choices=(lock,), to=chat, urgent=diff.flagged)
        for chat in await people_with_role(ctx.session, community.id, "supervisor")
    ]
    own = (lock,) if supervises(ctx, community.id) else ()
    return [Reply("ledger.close.done", params, choices=own), *told]


async def lock_day(ctx: Context, action: LockDay) -> list[Reply]:
    """The supervisor's review: the closed day locked; a locked day is never reopened."""
    row = await ctx.session.get(LedgerDay, action.day, with_for_update=True)
    if row is None:
        return [Reply("dialog.stale")]
    if not supervises(ctx, row.community_id):
        return [Reply("dialog.not_allowed")]
    day = row.day.isoformat()
    if row.status == LOCKED:
        return [Reply("ledger.error.already_locked", {"day": day})]
    if row.status != CLOSED:
        return [Reply("ledger.error.not_closed", {"day": day})]
    row.status, row.locked_by, row.locked_at = LOCKED, ctx.actor, ctx.now
    ctx.session.add(row)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="ledger_locked",
        target=f"ledger:{row.community_id}:{day}",
        detail={"day": row.id},
        now=ctx.now,
    )
    return [Reply("ledger.locked", {"day": day})]


async def reopen_day(ctx: Context, community: Community, day: date, reason: str) -> list[Reply]:
    """A supervisor reopens a closed day (not a locked one) with a reason, audited; the
    desk may then take entries on it again (today) and close it anew."""
    assert community.id is not None
    if not supervises(ctx, community.id):
        return [Reply("dialog.not_allowed")]
    if not reason.strip():
        return [Reply("ledger.error.reason")]
    row = await day_row(ctx, community.id, day)
    if row is None or row.status == OPEN:
        return [Reply("ledger.error.not_closed", {"day": day.isoformat()})]
    if row.status == LOCKED:
        return [Reply("ledger.error.locked", {"day": day.isoformat()})]
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="ledger_reopened",
        target=f"ledger:{community.id}:{day.isoformat()}",
        detail={
            "reason": reason.strip()[:500],
            "counted": str(row.cash_counted),
            "deposited": str(row.deposited),
            "difference": str(row.difference),
        },
        now=ctx.now,
    )
    row.status = OPEN
    row.closed_by, row.closed_at = "", None
    ctx.session.add(row)
    return [Reply("ledger.reopened", {"day": day.isoformat(), "reason": reason.strip()[:200]})]


# ---- /cash ------------------------------------------------------------------------------

CORRECT_WORDS = ("更正", "correct")
CLOSE_WORDS = ("日结", "close")
REOPEN_WORDS = ("重开", "reopen")
DEPOSIT_WORDS = ("解款", "存款", "deposit")


async def _where(ctx: Context, words: list[str]) -> tuple[Community | None, list[str], bool]:
    """The community the command is for: a leading code, or the sender's only one; the
    last value says the code named a community whose ledger the sender does not keep."""
    mine = await desk_communities(ctx)
    if words:
        named = [c for c in mine if c.code.upper() == words[0].upper()]
        if named:
            return named[0], words[1:], False
        other = await ctx.session.exec(
            select(Community.id).where(func.upper(Community.code) == words[0].upper())
        )
        if other.first() is not None:
            return None, words, True
    return (mine[0] if len(mine) == 1 else None), words, False


def typed_day(text: str, today: date) -> date | None:
    """A day as typed: `2026-11-25`, or as people say it (昨天, 11月25日)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return read_day(text, today)


async def cash_command(ctx: Context, argument: str) -> list[Reply]:
    """`/cash` today's page; `/cash 收 …` / `/cash 支 …` an entry; `/cash 更正 <收据号>
    <新收据号> <原因>`; `/cash 日结 <点钞金额> 解款 <金额> <银行回单号>`; `/cash 重开 <日期>
    <原因>` (supervisors). A leading community code picks one of several."""
    community, words, foreign = await _where(ctx, argument.split())
    if community is None:
        mine = await desk_communities(ctx)
        if not mine or foreign:
            return [Reply("dialog.not_allowed")]
        return [Reply("ledger.which", {"codes": " / ".join(c.code for c in mine)})]
    if not words:
        return [page_reply(await day_page(ctx, community, today(ctx)))]
    head = words[0].lower()
    if head in rules.DIRECTION_WORDS:
        try:
            line = rules.read_line(" ".join(words), parse_amount)
        except rules.Invalid as error:
            return [Reply(error.key, {"receipt": ""}), Reply("ledger.usage")]
        return await add_line(ctx, community, line)
    if head in CORRECT_WORDS:
        if len(words) < 4:
            return [Reply("ledger.usage")]
        return await correct_entry(ctx, community, words[1], words[2], " ".join(words[3:]))
    if head in CLOSE_WORDS:
        close = _read_close(words[1:])
        if close is None:
            return [Reply("ledger.usage")]
        return await close_day(ctx, community, today(ctx), close)
    if head in REOPEN_WORDS:
        day = typed_day(words[1], today(ctx)) if len(words) > 2 else None
        if day is None:
            return [Reply("ledger.usage")]
        return await reopen_day(ctx, community, day, " ".join(words[2:]))
    return [Reply("ledger.usage")]


def _read_close(words: list[str]) -> Close | None:
    """`<counted> [解款 <amount> <slip>] [备注 …]`."""
    if not words:
        return None
    counted = parse_amount(words[0]) if words[0] not in ("0", "0.00") else rules.ZERO
    if counted is None:
        return None
    deposited, ref, note = rules.ZERO, "", ""
    rest = words[1:]
    if rest and rest[0].lower() in rules.NOTE_WORDS:
        note, rest = " ".join(rest[1:]), []
    if rest and rest[0].lower() in DEPOSIT_WORDS:
        if len(rest) < 3:
            return None
        amount = parse_amount(rest[1])
        if amount is None:
            return None
        deposited, ref = amount, rest[2]
        tail = rest[3:]
        if tail and tail[0].lower() in rules.NOTE_WORDS:
            note = " ".join(tail[1:])
    elif rest:
        return None
    return Close(counted=counted, deposited=deposited, deposit_ref=ref, note=note)


# ---- names and the workbook --------------------------------------------------------------


async def clerk_names(ctx: Context, actors: set[str]) -> dict[str, str]:
    """`staff:5` → the staff member's name, as the page and the workbook show a clerk."""
    ids = {int(a.split(":", 1)[1]) for a in actors if a.startswith("staff:") and a[6:].isdigit()}
    if not ids:
        return {}
    found = await ctx.session.exec(select(StaffMember).where(col(StaffMember.id).in_(ids)))
    return {f"staff:{m.id}": m.name for m in found.all()}


async def export(
    ctx: Context, community: Community, first: date, last: date, label: Callable[[str], str]
) -> Sheets:
    """A range of days in words for the workbook: entries, sums by day, each day's close."""
    assert community.id is not None
    rows = await entries_between(ctx, community.id, first, last)
    closes = list(reversed(await days_between(ctx, community.id, first, last)))
    names = await clerk_names(
        ctx, {e.clerk for e in rows} | {d.closed_by for d in closes} | {d.locked_by for d in closes}
    )
    unit_ids = {e.unit_id for e in rows if e.unit_id is not None}
    units: dict[int, str] = {}
    if unit_ids:
        found = await ctx.session.exec(select(Unit).where(col(Unit.id).in_(unit_ids)))
        units = {u.id: u.label for u in found.all() if u.id is not None}
    receipts = {e.id: e.receipt for e in rows}
    tz = ctx.settings.tz

    def local(moment: datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""

    entries = [
        (
            e.day.isoformat(),
            e.at.astimezone(tz).strftime("%H:%M"),
            e.receipt,
            label(f"ledger.direction.{e.direction}"),
            label(f"ledger.purpose.{e.purpose}"),
            label(f"ledger.method.{e.method}"),
            e.amount if e.direction == rules.IN else -e.amount,
            e.payer,
            units.get(e.unit_id, "") if e.unit_id else "",
            names.get(e.clerk, e.clerk),
            e.source,
            receipts.get(e.corrects_id, "") if e.corrects_id else "",
            e.note,
        )
        for e in rows
    ]
    totals: list[tuple[Any, ...]] = []
    for day in sorted({e.day for e in rows}):
        summary = rules.summarize(amounts([e for e in rows if e.day == day]))
        kinds = (
            ("ledger.col.by_method", method_label, summary.by_method),
            ("ledger.col.income", purpose_label, summary.income),
            ("ledger.col.expenses", purpose_label, summary.expenses),
        )
        for kind, named, sums in kinds:
            for name, value in sums.items():
                totals.append((day.isoformat(), label(kind), label(named(name).key), value))
        totals.append((day.isoformat(), label("ledger.col.net"), "", summary.net))
        totals.append((day.isoformat(), label("ledger.col.expected"), "", summary.cash_expected))
    close_rows = [
        (
            d.day.isoformat(),
            label(f"ledger.status.{d.status}"),
            d.cash_expected,
            d.cash_counted,
            d.difference,
            d.deposited,
            d.deposit_ref,
            Decimal(str(d.totals.get("deposit_difference", "0"))),
            names.get(d.closed_by, d.closed_by),
            local(d.closed_at),
            names.get(d.locked_by, d.locked_by),
            local(d.locked_at),
            d.note,
        )
        for d in closes
    ]
    return Sheets(entries=entries, totals=totals, closes=close_rows)
