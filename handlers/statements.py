"""Publishing the accounts (收支情况公示): "根据计划财务部提供的相关数据公布收支情况".

A supervisor or director makes a community's statement for a month, a quarter or a year
(`/statement 2026-11`, `/statement 2026-Q4`, `/statement 2026`, or the desk's page) from
the cash ledger: income by purpose with deposits held apart, expenses by purpose,
corrections netted (handlers/rules/statements.py), the totals, the balance and the period
before. It is a draft (`AccountStatement`, one per community and period): making it again
refreshes the draft. Publishing (a button, managers only) draws the owners' copy of the
workbook (sums only, no payer or unit) and announces the summary with the file to every
owner bound in the community, once per chat, paced behind replies, after the quiet hours
(as `/announce` does), audited. A published statement is never changed: making the period
again makes a new draft version (`2026-11.2`, `totals["version"]` 2) that says, when
published, that it corrects the one before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import select as select_columns
from sqlmodel import col, or_, select

from handlers.announce import dedupe_key
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.documents.statement import (
    Entry,
    StatementData,
    draw_statement_chart,
    write_statement,
)
from handlers.rules import statements as rules
from handlers.rules.ledger import Amount, business_day
from handlers.rules.quiet import release_time
from handlers.staffauth import acting_member, is_manager
from storage import audit, outbox
from storage.models import (
    AccountStatement,
    Binding,
    ChatIdentity,
    Community,
    LedgerEntry,
    Role,
    Unit,
)

DRAFT, PUBLISHED = "draft", "published"
FOLDER = "statements"


@dataclass(frozen=True)
class Publish(Action):
    """Publish a draft statement to the community's owners (公示)."""

    name: ClassVar[str] = "stmt_pub"
    statement: int


# ---- who may see and act ----------------------------------------------------------------


def may_view(ctx: Context, community_id: int) -> bool:
    """The community's staff (the desk looks, e.g. to answer an owner) and its managers."""
    return acting_member(ctx, community_id) is not None


def may_make(ctx: Context, community_id: int) -> bool:
    """Supervisors and directors of the community (or company-wide)."""
    return is_manager(ctx, community_id)


async def communities(ctx: Context, *, making: bool) -> list[Community]:
    found = (await ctx.session.exec(select(Community).order_by(col(Community.code)))).all()
    check = may_make if making else may_view
    return [c for c in found if c.id is not None and check(ctx, c.id)]


# ---- making a draft -----------------------------------------------------------------------


async def _amounts(
    ctx: Context, community_id: int, period: rules.Period
) -> tuple[list[rules.Dated], list[Amount]]:
    """The period's entries (by day) and the period before's."""
    before = period.previous()
    rows = (
        await ctx.session.exec(
            select(LedgerEntry).where(
                LedgerEntry.community_id == community_id,
                col(LedgerEntry.day) >= before.starts,
                col(LedgerEntry.day) <= period.ends,
            )
        )
    ).all()

    def amount(e: LedgerEntry) -> Amount:
        return Amount(e.direction, e.purpose, e.method, e.amount)

    inside = [rules.Dated(e.day, amount(e)) for e in rows if e.day >= period.starts]
    earlier = [amount(e) for e in rows if before.starts <= e.day <= before.ends]
    return inside, earlier


async def versions(ctx: Context, community_id: int, label: str) -> list[AccountStatement]:
    """Every version of a community's statement for a period, the first first."""
    found = (
        await ctx.session.exec(
            select(AccountStatement).where(
                AccountStatement.community_id == community_id,
                or_(
                    col(AccountStatement.period) == label,
                    col(AccountStatement.period).startswith(f"{label}."),
                ),
            )
        )
    ).all()
    return sorted(found, key=version_of)


def version_of(statement: AccountStatement) -> int:
    return int(statement.totals.get("version", 1))


async def make(
    ctx: Context, community: Community, period: rules.Period
) -> tuple[AccountStatement, str]:
    """The period's draft made, or refreshed when a draft is there; a new version when the
    last one was published. Returns it and what was done (made, refreshed, corrected)."""
    assert community.id is not None
    inside, earlier = await _amounts(ctx, community.id, period)
    made = rules.statement(period, inside, earlier, business_day(ctx.now, ctx.settings.tz))
    found = await versions(ctx, community.id, period.label)
    last = found[-1] if found else None
    if last is not None and last.status == DRAFT:
        statement, done = last, "refreshed"
        made["totals"].update(
            {k: v for k, v in last.totals.items() if k in ("version", "replaces")}
        )
    else:
        version = version_of(last) + 1 if last is not None else 1
        statement = AccountStatement(
            community_id=community.id,
            period=rules.stored_period(period.label, version),
            starts=period.starts,
            ends=period.ends,
            made_by=ctx.actor,
            made_at=ctx.now,
        )
        made["totals"]["version"] = version
        if last is not None:
            made["totals"]["replaces"] = last.id
        done = "corrected" if last is not None else "made"
    statement.income = made["income"]
    statement.expenses = made["expenses"]
    statement.totals = made["totals"]
    statement.made_by = ctx.actor
    statement.made_at = ctx.now
    ctx.session.add(statement)
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action=f"statement_{done}",
        target=f"statement:{statement.id}",
        detail={"community": community.code, "period": statement.period, **made["totals"]},
        now=ctx.now,
    )
    return statement, done


# ---- what it says ----------------------------------------------------------------------


def _lines(sums: dict[str, Any]) -> list[Text] | Text:
    if not sums:
        return Text("statements.none")
    return [
        Text(
            "statements.line", {"purpose": Text(f"statements.purpose.{p}"), "amount": rules.yuan(v)}
        )
        for p, v in sums.items()
    ]


def _compare(totals: dict[str, Any], name: str) -> str:
    previous = totals.get("previous", {})
    if name not in previous:
        return "—"
    moved = rules.change(totals, previous, name)
    return ("+" if moved >= 0 else "") + rules.yuan(moved)


def params(statement: AccountStatement, community: Community) -> dict[str, Any]:
    """A statement's summary, as chat, the announcement and the page say it."""
    totals = statement.totals
    version = version_of(statement)
    previous = totals.get("previous", {})
    return {
        "community": community.name,
        "period": rules.base_period(statement.period),
        "starts": statement.starts.isoformat(),
        "ends": statement.ends.isoformat(),
        "version": Text("statements.version", {"version": version}) if version > 1 else "",
        "so_far": Text("statements.so_far", {"as_of": totals["as_of"]})
        if rules.unfinished(statement.ends, totals.get("as_of"))
        else "",
        "income_lines": _lines(statement.income),
        "expense_lines": _lines(statement.expenses),
        "income": rules.yuan(totals["income"]),
        "expenses": rules.yuan(totals["expenses"]),
        "balance": rules.yuan(totals["balance"]),
        "deposits": rules.yuan(totals["deposits"]),
        "before": previous.get("period", ""),
        "income_change": _compare(totals, "income"),
        "expenses_change": _compare(totals, "expenses"),
        "balance_change": _compare(totals, "balance"),
    }


def status_text(statement: AccountStatement) -> Text:
    if statement.status == PUBLISHED:
        return Text("statements.status.published", {"at": statement.published_at})
    return Text("statements.status.draft")


def summary(statement: AccountStatement, community: Community, done: str = "") -> Reply:
    choices: tuple[Choice, ...] = ()
    if statement.status == DRAFT:
        choices = (Publish(statement.id or 0).choice("statements.btn.publish"),)
    return Reply(
        "statements.summary",
        {
            **params(statement, community),
            "done": Text(f"statements.done.{done}") if done else "",
            "status": status_text(statement),
        },
        choices=choices,
    )


# ---- the command --------------------------------------------------------------------------


async def statement_command(ctx: Context, argument: str) -> list[Reply]:
    """`/statement <period> [community code]`: the period's draft made or refreshed."""
    parts = argument.split()
    if not parts:
        return [Reply("statements.usage")]
    try:
        period = rules.period_of(parts[0])
    except rules.BadPeriod:
        return [Reply("statements.error.period", {"period": parts[0][:20]})]
    if period.starts > business_day(ctx.now, ctx.settings.tz):
        return [Reply("statements.error.future", {"period": period.label})]
    mine = await communities(ctx, making=True)
    if len(parts) > 1:
        mine = [c for c in mine if c.code.lower() == parts[1].lower()]
    if not mine:
        return [Reply("dialog.not_allowed")]
    if len(mine) > 1:
        codes = " / ".join(c.code for c in mine)
        return [Reply("statements.error.community", {"codes": codes, "period": period.label})]
    statement, done = await make(ctx, mine[0], period)
    return [summary(statement, mine[0], done)]


# ---- publishing -------------------------------------------------------------------------


async def statement_for(
    ctx: Context, statement_id: int, *, making: bool = False
) -> tuple[AccountStatement, Community] | None:
    """A statement the sender may see (or, `making`, act on)."""
    statement = await ctx.session.get(AccountStatement, statement_id)
    if statement is None:
        return None
    allowed = may_make if making else may_view
    if not allowed(ctx, statement.community_id):
        return None
    community = await ctx.session.get(Community, statement.community_id)
    assert community is not None
    return statement, community


def data_of(
    ctx: Context,
    statement: AccountStatement,
    community: Community,
    entries: list[Entry] | None = None,
    locale: str | None = None,
) -> StatementData:
    title = ctx.catalogs.text(
        locale or ctx.catalogs.default_locale,
        "statements.file.title",
        {
            "community": community.name,
            "period": rules.base_period(statement.period),
            "version": Text("statements.version", {"version": version_of(statement)})
            if version_of(statement) > 1
            else "",
        },
    )
    return StatementData(
        title=title,
        period=rules.base_period(statement.period),
        starts=statement.starts,
        ends=statement.ends,
        income=statement.income,
        expenses=statement.expenses,
        totals=statement.totals,
        entries=entries,
    )


def label_for(ctx: Context, locale: str | None = None) -> Any:
    chosen = locale or ctx.catalogs.default_locale
    return lambda key, **values: ctx.catalogs.text(chosen, key, values)


def public_path(ctx: Context, statement: AccountStatement, community: Community) -> Path:
    folder = Path(ctx.settings.data_dir) / FOLDER
    return (folder / f"statement-{community.code}-{statement.period}.xlsx").absolute()


async def owners(ctx: Context, community_id: int) -> list[tuple[Recipient, int]]:
    """Each chat of an owner bound to a unit of the community, once (tenants and family
    members are not owners: the accounts are published to those who pay)."""
    stmt = (
        select_columns(
            col(ChatIdentity.channel),
            col(ChatIdentity.external_user_id),
            col(ChatIdentity.locale),
            col(ChatIdentity.person_id),
        )
        .join(Binding, col(Binding.person_id) == col(ChatIdentity.person_id))
        .join(Unit, col(Unit.id) == col(Binding.unit_id))
        .where(col(Unit.community_id) == community_id, col(Binding.role) == Role.owner.value)
        .distinct()
    )
    connection = await ctx.session.connection()
    rows = (await connection.execute(stmt)).all()
    return [
        (Recipient(channel, chat, locale), person)
        for channel, chat, locale, person in rows
        if person is not None  # joined on the binding's person: never None
    ]


async def publish(ctx: Context, action: Publish) -> list[Reply]:
    """The draft published: the owners' file written, the summary and the file queued to
    every owner's chat once, after the quiet hours; who and when kept; audited."""
    found = await statement_for(ctx, action.statement, making=True)
    if found is None:
        return [Reply("dialog.not_allowed")]
    statement, community = found
    assert community.id is not None
    label = rules.base_period(statement.period)
    if statement.status == PUBLISHED:
        return [Reply("statements.already", {"period": label})]
    why = rules.not_ready(
        statement.ends, statement.totals.get("as_of"), business_day(ctx.now, ctx.settings.tz)
    )
    if why is not None:
        return [Reply(why, {"period": label, "ends": statement.ends.isoformat()})]
    path = public_path(ctx, statement, community)
    chart = path.with_suffix(".png")
    data = data_of(ctx, statement, community)
    await asyncio.to_thread(write_statement, data, label_for(ctx), path)
    await asyncio.to_thread(draw_statement_chart, data, label_for(ctx), chart)
    statement.status = PUBLISHED
    statement.published_by = ctx.actor
    statement.published_at = ctx.now
    statement.file = str(path)
    ctx.session.add(statement)
    settings = ctx.settings
    later = release_time(ctx.now, settings.tz, settings.quiet_hours_start, settings.quiet_hours_end)
    said = {**params(statement, community), "company": settings.company_name}
    # The words, the chart (read at a glance on a phone) and the table, in that order.
    parts = (
        ("", Reply("statements.notice", said)),
        ("c", Reply("statements.notice.chart", said, photo=str(chart))),
        ("f", Reply("statements.notice.file", said, document=str(path))),
    )
    ref = f"statement{statement.id}"
    chats = await owners(ctx, community.id)
    rendered: dict[str, list[dict[str, Any]]] = {}
    messages = []
    for chat, _ in chats:
        locale = chat.locale or settings.default_locale
        if locale not in rendered:
            rendered[locale] = [ctx.catalogs.render(reply, locale) for _, reply in parts]
        for (suffix, _), payload in zip(parts, rendered[locale], strict=True):
            key = dedupe_key(f"{ref}{suffix}", chat)
            messages.append(outbox.Message(chat.channel, chat.chat_id, payload, key))
    queued = await outbox.enqueue_many(
        ctx.session, messages, now=ctx.now, not_before=later, bulk=True
    )
    residents = len({person for _, person in chats})
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="statement_publish",
        target=f"statement:{statement.id}",
        detail={
            "community": community.code,
            "period": statement.period,
            "owners": residents,
            "chats": len(chats),
            "queued": queued,
            "file": path.name,
        },
        now=ctx.now,
    )
    when = "" if later is None else Text("statements.quiet", {"at": later})
    return [
        Reply(
            "statements.published",
            {
                "period": rules.base_period(statement.period),
                "owners": residents,
                "chats": len(chats),
                "when": when,
            },
        )
    ]


# ---- what the page reads ------------------------------------------------------------------


async def listed(ctx: Context, limit: int = 60) -> list[tuple[AccountStatement, Community]]:
    """The statements of the communities the sender may see, newest period first."""
    ids = [c.id for c in await communities(ctx, making=False) if c.id is not None]
    if not ids:
        return []
    rows = (
        await ctx.session.exec(
            select(AccountStatement, Community)
            .join(Community, col(Community.id) == col(AccountStatement.community_id))
            .where(col(AccountStatement.community_id).in_(ids))
            .order_by(col(AccountStatement.starts).desc(), col(AccountStatement.period).desc())
            .limit(limit)
        )
    ).all()
    return [(s, c) for s, c in rows]


async def entries_of(ctx: Context, statement: AccountStatement) -> list[Entry]:
    """The period's entries for the office's copy, in the order they were taken."""
    rows = (
        await ctx.session.exec(
            select(LedgerEntry, Unit)
            .outerjoin(Unit, col(Unit.id) == col(LedgerEntry.unit_id))
            .where(
                LedgerEntry.community_id == statement.community_id,
                col(LedgerEntry.day) >= statement.starts,
                col(LedgerEntry.day) <= statement.ends,
            )
            .order_by(col(LedgerEntry.day), col(LedgerEntry.id))
        )
    ).all()
    return [
        Entry(
            day=e.day,
            receipt=e.receipt,
            direction=e.direction,
            purpose=e.purpose,
            method=e.method,
            amount=e.amount,
            payer=e.payer,
            unit=unit.label if unit is not None else "",
            note=e.note,
        )
        for e, unit in rows
    ]


def write_chart(data: StatementData, label: Any, path: Path) -> bytes:
    """The chart drawn to `path` and read back (blocking: run it in a thread)."""
    draw_statement_chart(data, label, path)
    return path.read_bytes()
