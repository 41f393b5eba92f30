"""Today at the gate (门岗放行): the day's release slips and a guard's check of a code.

The list is the day's slips of the communities the signed-in staff may see
(`handlers.gate`). Checking a code is chat's `/slip <code>` (`handlers.slip.checked`) and
letting the goods out is the guard's "used" button (`handlers.slip.mark_used`), called
with the desk's `web` staff records: the same checks (security staff and managers of the
slip's community), the same verdicts, the same ticket event and audit entry, and the
applicant is told as from chat. The code travels in a POST form, never in a URL. The page
is meant for a phone at the gate: one big field, one big answer.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import desk
from bot.web.acting import staff_context
from dialogs.sending import send
from handlers import gate, slip
from handlers.core.context import Context
from handlers.core.messages import Reply
from storage import signals

MAX_CODE = 40  # a code as typed or scanned (`FDSLIP:K7QW2M`), with room for spaces


def routes() -> list[web.RouteDef]:
    return [
        web.get("/gate", page),
        web.post("/gate", check),
        web.post("/gate/use", use),
    ]


def _details(ctx: Context, card: Any) -> list[tuple[str, str]]:
    """The slip's particulars, as the guard compares them with the goods."""
    if not card:
        return []
    say = ctx.catalogs.format
    locale = ctx.locale
    applicant = f"{say(locale, card['name'])}（{say(locale, card['role'])}）{card['phone']}"
    rows = [
        ("web.gate.code", card["code"]),
        ("web.gate.unit", card["unit"]),
        ("web.gate.applicant", applicant),
        ("web.gate.items", card["items"]),
        ("web.gate.plate", card["plate"]),
        ("web.gate.when", f"{say(locale, card['day'])} {say(locale, card['window'])}".strip()),
        ("web.gate.status", card["status"]),
    ]
    return [(ctx.catalogs.text(locale, key), say(locale, value)) for key, value in rows]


def _said(ctx: Context, reply: Reply) -> str:
    return ctx.catalogs.text(ctx.locale, reply.key, reply.params)


def _words(request: web.Request, key: str) -> str:
    return desk.app_of(request).catalogs.text(desk.desk_of(request).locale, key)


async def _render(
    request: web.Request,
    *,
    code: str = "",
    result: dict[str, Any] | None = None,
    problem: str = "",
    status: int = 200,
) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        day, rows = await gate.today(ctx)
        guard = slip.guards(ctx)
    context = desk.context(
        request,
        day=day,
        rows=rows,
        guard=guard,
        code=code,
        result=result,
        problem=problem,
    )
    return aiohttp_jinja2.render_template("gate.html", request, context, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    return await _render(request)


async def check(request: web.Request) -> web.StreamResponse:
    """A code typed or scanned at the gate, checked as chat's `/slip <code>` checks it."""
    app = desk.app_of(request)
    form = await request.post()
    code = " ".join(str(form.get("code") or "").split())[:MAX_CODE]
    if not code:
        return await _render(request, problem=_words(request, "web.gate.error.empty"), status=400)
    async with app.db.reading() as session:
        ctx = staff_context(request, session, text=f"/slip {code}")
        found = await slip.checked(ctx, code)
        if found.verdict in ("unknown", "not_allowed"):
            # Refused next to the field, with what was typed kept.
            status = 404 if found.verdict == "unknown" else 403
            return await _render(request, code=code, problem=_said(ctx, found.reply), status=status)
        verdict = found.card["verdict"] if found.card else None
        result = {
            "tone": "ok" if found.verdict == "valid" else "stop",
            "headline": ctx.catalogs.text(ctx.locale, f"web.gate.verdict.{found.verdict}"),
            "reason": ctx.catalogs.format(ctx.locale, verdict),
            "details": _details(ctx, found.card),
            "use": found.slip.id if found.verdict == "valid" and found.slip else None,
        }
    return await _render(request, code=code, result=result)


async def use(request: web.Request) -> web.StreamResponse:
    """The guard lets the goods out: chat's "used" button, pressed on the page."""
    app = desk.app_of(request)
    form = await request.post()
    code = " ".join(str(form.get("code") or "").split())[:MAX_CODE]
    try:
        slip_id = int(str(form.get("slip") or ""))
    except ValueError:
        problem = _words(request, "web.gate.error.empty")
        return await _render(request, code=code, problem=problem, status=400)
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        replies = await slip.mark_used(ctx, slip.MarkUsed(slip_id))
        answer = next((r for r in replies if r.to is None), replies[0])
        pushes = [r for r in replies if r.to is not None]
        await send(
            session, pushes, catalogs=app.catalogs, settings=app.settings, now=app.clock.now()
        )
        if pushes:
            await signals.notify(session, signals.OUTBOX)  # the process that sends, sends
        shown = str(answer.params.get("code") or code)
        after = await slip.checked(ctx, shown) if shown else None
        done = answer.key == "slip.use.done"
        result = {
            "tone": "ok" if done else "stop",
            "headline": ctx.catalogs.text(
                ctx.locale, "web.gate.verdict.released" if done else "web.gate.verdict.refused"
            ),
            "reason": _said(ctx, answer),
            "details": _details(ctx, after.card if after else None),
            "use": None,
        }
    return await _render(request, code="" if done else code, result=result)
