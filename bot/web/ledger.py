"""The cash ledger on the desk's pages (`/desk/ledger`): a community's day with its entries
and sums, an entry form, a correction, the day's close with the cash counted and the bank
deposit, the past days with their status and differences, the supervisor's lock and
reopen, and the workbook of a day or a range of days.

Each action calls chat's own use-case (`handlers.ledger`) as the signed-in desk, in one
transaction, with chat's own checks; what it says to the desk is shown on the page, what
it says to others (the supervisors told of a close) leaves through `dialogs.sending.send`.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import staff_context
from handlers import ledger
from handlers.core.context import Context
from handlers.core.messages import Reply
from handlers.documents.ledger import write_ledger
from handlers.rules import ledger as rules
from handlers.rules.fees import parse_amount
from storage.models import Community

SAID = "ledger_said"
PAST_DAYS = 31
LONGEST_EXPORT = 366


def routes() -> list[web.RouteDef]:
    return [
        web.get("/ledger", page),
        web.post("/ledger/entry", entry),
        web.post("/ledger/correct", correct),
        web.post("/ledger/close", close),
        web.post(r"/ledger/{id:\d+}/lock", lock),
        web.post("/ledger/reopen", reopen),
        web.get("/ledger/export", export),
    ]


def _field(posted: Any, name: str, limit: int = 100) -> str:
    return str(posted.get(name) or "").strip()[:limit]


def _day(text: str, default: date) -> date:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else default
    except ValueError:
        return default


async def _done(request: web.Request, ctx: Context, replies: list[Reply]) -> None:
    await acting.answered(request, ctx, replies, SAID)


async def _community(ctx: Context, code: str) -> tuple[Community | None, list[Community]]:
    """The community asked for (by code) among those whose ledger the desk keeps."""
    mine = await ledger.desk_communities(ctx)
    chosen = [c for c in mine if c.code.upper() == code.upper()] if code else mine[:1]
    return (chosen[0] if chosen else None), mine


def _back(request: web.Request, code: str, day: str = "") -> str:
    where = f"{desk.prefix_of(request)}/ledger?community={code}"
    return f"{where}&day={day}" if day else where


async def page(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        community, mine = await _community(ctx, request.query.get("community", ""))
        if community is None or community.id is None:
            said = acting.said(request, SAID)
            values = desk.context(request, community=None, mine=mine, said=said)
            return aiohttp_jinja2.render_template("ledger_page.html", request, values)
        today = ledger.today(ctx)
        day = min(_day(request.query.get("day", ""), today), today)
        shown = await ledger.day_page(ctx, community, day)
        past = await ledger.days_between(ctx, community.id, today - timedelta(PAST_DAYS), today)
        names = await ledger.clerk_names(ctx, {e.clerk for e in shown.entries})
        supervisor = ledger.supervises(ctx, community.id)
    receipts = {e.id: e.receipt for e in shown.entries}
    rows = [*past, *([shown.row] if shown.row else [])]
    deposit_differences = {
        d.id: Decimal(str(d.totals.get("deposit_difference", "0"))) for d in rows
    }
    values = desk.context(
        request,
        community=community,
        mine=mine,
        shown=shown,
        today=today,
        is_today=day == today,
        past=past,
        names=names,
        receipts=receipts,
        deposit_differences=deposit_differences,
        supervisor=supervisor,
        income=rules.INCOME,
        expenses=rules.EXPENSES,
        methods=rules.METHODS,
        said=acting.said(request, SAID),
        first=(today - timedelta(days=6)).isoformat(),
    )
    return aiohttp_jinja2.render_template("ledger_page.html", request, values)


async def entry(request: web.Request) -> web.StreamResponse:
    """An entry from the page's form, as `/cash 收 …` takes it."""
    app = desk.app_of(request)
    posted = await request.post()
    code = _field(posted, "community", 20)
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        community, _ = await _community(ctx, code)
        replies = await _entry(ctx, community, posted)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_back(request, code))


async def _entry(ctx: Context, community: Community | None, posted: Any) -> list[Reply]:
    if community is None:
        return [Reply("dialog.not_allowed")]
    direction = _field(posted, "direction", 8)
    amount = parse_amount(_field(posted, "amount", 30))
    if amount is None:
        return [Reply("ledger.error.amount")]
    line = rules.Line(
        direction=direction,
        purpose=_field(posted, "purpose", 20),
        method=_field(posted, "method", 16),
        amount=amount,
        receipt=_field(posted, "receipt", 50),
        payer=_field(posted, "payer", 100),
        unit=_field(posted, "unit", 50),
        note=_field(posted, "note", 500),
    )
    return await ledger.add_line(ctx, community, line)


async def correct(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    posted = await request.post()
    code = _field(posted, "community", 20)
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        community, _ = await _community(ctx, code)
        replies = (
            await ledger.correct_entry(
                ctx,
                community,
                _field(posted, "old_receipt", 50),
                _field(posted, "new_receipt", 50),
                _field(posted, "reason", 500),
            )
            if community
            else [Reply("dialog.not_allowed")]
        )
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_back(request, code))


async def close(request: web.Request) -> web.StreamResponse:
    """The day closed from the page's form, as `/cash 日结 …` closes it."""
    app = desk.app_of(request)
    posted = await request.post()
    code = _field(posted, "community", 20)
    day_text = _field(posted, "day", 10)
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        community, _ = await _community(ctx, code)
        replies = await _close(ctx, community, posted, _day(day_text, ledger.today(ctx)))
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_back(request, code, day_text))


def _money(text: str) -> Any:
    """An amount typed in a close (0 allowed: nothing counted, nothing deposited)."""
    if text.strip() in ("", "0", "0.0", "0.00"):
        return rules.ZERO
    return parse_amount(text)


async def _close(ctx: Context, community: Community | None, posted: Any, day: date) -> list[Reply]:
    if community is None:
        return [Reply("dialog.not_allowed")]
    counted = _money(_field(posted, "counted", 30))
    deposited = _money(_field(posted, "deposited", 30))
    if counted is None or deposited is None:
        return [Reply("ledger.error.amount")]
    made = ledger.Close(
        counted=counted,
        deposited=deposited,
        deposit_ref=_field(posted, "deposit_ref", 100),
        note=_field(posted, "close_note", 500),
    )
    return await ledger.close_day(ctx, community, day, made)


async def lock(request: web.Request) -> web.StreamResponse:
    """The supervisor's lock, as the button on the closing message."""
    app = desk.app_of(request)
    posted = await request.post()
    code = _field(posted, "community", 20)
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        replies = await ledger.lock_day(ctx, ledger.LockDay(day=int(request.match_info["id"])))
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_back(request, code, _field(posted, "day", 10)))


async def reopen(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    posted = await request.post()
    code = _field(posted, "community", 20)
    day_text = _field(posted, "day", 10)
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        community, _ = await _community(ctx, code)
        if community is None:
            replies = [Reply("dialog.not_allowed")]
        else:
            day = _day(day_text, ledger.today(ctx))
            replies = await ledger.reopen_day(ctx, community, day, _field(posted, "reason", 500))
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_back(request, code, day_text))


async def export(request: web.Request) -> web.StreamResponse:
    """The workbook of a day or a range of days (at most a year)."""
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        community, _ = await _community(ctx, request.query.get("community", ""))
        if community is None:
            return desk.not_yours(request)
        today = ledger.today(ctx)
        first = _day(request.query.get("from", ""), today)
        last = _day(request.query.get("to", ""), first)
        first, last = min(first, last), max(first, last)
        first = max(first, last - timedelta(days=LONGEST_EXPORT))

        def label(key: str) -> str:
            return app.catalogs.text(ctx.locale, key)

        sheets = await ledger.export(ctx, community, first, last, label)
    body = await asyncio.to_thread(write_ledger, sheets, label)
    name = f"ledger-{community.code}-{first.isoformat()}-{last.isoformat()}.xlsx"
    return web.Response(
        body=body,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
