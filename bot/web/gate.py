"""Today at the gate (门岗放行): the day's release slips and a guard's check of a code.

The list is the day's slips of the communities the signed-in staff may see
(`handlers.gate`). Checking a code is the guard's `/slip <code>` and letting the goods out
is their "used" button, each handed to the engine as their message from the `web` channel,
so chat's own handlers run with the desk's `web` staff records and the store keeps both as
it keeps a guard's in chat: who checked which code and when, the slip marked used by them,
the ticket event and the audit entry, and the applicant told as from chat. What the page
shows of a check is read with the same function (`handlers.slip.checked`). The code
travels in a POST form, never in a URL. The page is meant for a phone at the gate: one big
field, one big answer.

A renovation worker's pass (`FDPASS:` or eight letters and digits) typed or scanned in the
same field is chat's `/pass <code>`, and "let in" is chat's button (handlers/renovation_passes.py),
each the guard's message to the engine as for slips; today's workers are listed under the slips.
A visitor's code (`FDVISIT:` or seven letters and digits) is chat's `/visitor <code>`, shown
on the visitors' page (bot/web/visitors.py) with its 进入 / 离开 buttons.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import desk, visitors
from bot.web.acting import handled, staff_context
from handlers import gate, renovation_passes, slip
from handlers.core.context import Context
from handlers.core.messages import Reply
from handlers.rules.visitors import looks_like_visit

MAX_CODE = 40  # a code as typed or scanned (`FDSLIP:K7QW2M`), with room for spaces


def routes() -> list[web.RouteDef]:
    return [
        web.get("/gate", page),
        web.post("/gate", check),
        web.post("/gate/use", use),
        web.post("/gate/letin", let_in),
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
        workers = await gate.passes_today(ctx)
        guard = slip.guards(ctx)  # the desk checks passes in chat (`/pass`), not here
    context = desk.context(
        request,
        once=uuid.uuid4().hex,
        day=day,
        rows=rows,
        workers=workers,
        guard=guard,
        code=code,
        result=result,
        problem=problem,
    )
    return aiohttp_jinja2.render_template("gate.html", request, context, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    return await _render(request)


def _once(form: Any) -> str:
    """The form's own id: the same form sent twice is one check, one release."""
    return str(form.get("once") or "")[:40] or uuid.uuid4().hex


async def check(request: web.Request) -> web.StreamResponse:
    """A code typed or scanned at the gate, checked as chat's `/slip <code>` checks it: the
    check is the guard's message to the engine, kept as chat keeps it (who, when, what was
    typed), and the page shows what it found."""
    app = desk.app_of(request)
    form = await request.post()
    code = " ".join(str(form.get("code") or "").split())[:MAX_CODE]
    if not code:
        return await _render(request, problem=_words(request, "web.gate.error.empty"), status=400)
    if looks_like_visit(code):  # a visitor's code: checked and shown as on the visitors page
        return await visitors.checked_page(request, _once(form), code)
    if renovation_passes.looks_like_pass(code):
        return await _check_pass(request, _once(form), code)
    await handled(request, _once(form), text=f"/slip {code}")
    async with app.db.reading() as session:
        ctx = staff_context(request, session, text=f"/slip {code}")
        found = await slip.checked(ctx, code)
        if found.verdict in ("unknown", "not_allowed"):
            # Refused next to the field, with what was typed kept.
            status = 404 if found.verdict == "unknown" else 403
            return await _render(request, code=code, problem=_said(ctx, found.reply), status=status)
        result = _verdict(ctx, found)
    return await _render(request, code=code, result=result)


def _verdict(ctx: Context, found: slip.Checked) -> dict[str, Any]:
    """A check's answer as the page shows it: the verdict in big letters, the slip's
    particulars, and the "used" button while it may go out."""
    verdict = found.card["verdict"] if found.card else None
    return {
        "tone": "ok" if found.verdict == "valid" else "stop",
        "headline": ctx.catalogs.text(ctx.locale, f"web.gate.verdict.{found.verdict}"),
        "reason": ctx.catalogs.format(ctx.locale, verdict),
        "details": _details(ctx, found.card),
        "use": found.slip.id if found.verdict == "valid" and found.slip else None,
    }


async def use(request: web.Request) -> web.StreamResponse:
    """The guard lets the goods out: chat's "used" button, pressed on the page and handled
    by the engine as in chat, so the slip is marked used by them, the ticket event and the
    audit entry are written and the applicant is told as from chat."""
    app = desk.app_of(request)
    form = await request.post()
    code = " ".join(str(form.get("code") or "").split())[:MAX_CODE]
    try:
        slip_id = int(str(form.get("slip") or ""))
    except ValueError:
        problem = _words(request, "web.gate.error.empty")
        return await _render(request, code=code, problem=problem, status=400)
    pressed = slip.MarkUsed(slip_id).choice("slip.use").value
    answers = await handled(request, _once(form), option=pressed)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        after = await slip.checked(ctx, code) if code else None
        if not answers:  # the same form again (a double click): where the slip stands now
            if after is None or after.verdict in ("unknown", "not_allowed"):
                return await _render(request)
            return await _render(request, code=code, result=_verdict(ctx, after))
        answer = answers[0].payload
        done = answer.get("key") == "slip.use.done"
        result = {
            "tone": "ok" if done else "stop",
            "headline": ctx.catalogs.text(
                ctx.locale, "web.gate.verdict.released" if done else "web.gate.verdict.refused"
            ),
            "reason": str(answer.get("text") or ""),
            "details": _details(ctx, after.card if after else None),
            "use": None,
        }
    return await _render(request, code="" if done else code, result=result)


# ---- a renovation worker's temporary pass (临时出入证) ---------------------------------------


def _pass_details(ctx: Context, card: Any) -> list[tuple[str, str]]:
    """The pass's particulars, as the guard compares them with the worker."""
    if not card:
        return []
    say = ctx.catalogs.format
    locale = ctx.locale
    rows = [
        ("renopass.web.code", card["code"]),
        ("renopass.web.worker", f"{card['name']} {card['phone']}".strip()),
        ("renopass.web.unit", card["unit"]),
        ("renopass.web.contractor", card["contractor"]),
        ("renopass.web.permit", card["permit"]),
        ("renopass.web.dates", f"{say(locale, card['from'])} – {say(locale, card['to'])}"),
        ("renopass.web.hours", card["hours"]),
        ("renopass.web.status", card["status"]),
    ]
    return [(ctx.catalogs.text(locale, key), say(locale, value)) for key, value in rows]


def _pass_verdict(ctx: Context, found: renovation_passes.PassChecked) -> dict[str, Any]:
    verdict = found.card["verdict"] if found.card else None
    valid = found.verdict == "valid"
    return {
        "tone": "ok" if valid else "stop",
        "headline": ctx.catalogs.text(
            ctx.locale, "renopass.web.valid" if valid else "renopass.web.refused"
        ),
        "reason": ctx.catalogs.format(ctx.locale, verdict),
        "details": _pass_details(ctx, found.card),
        "use": None,
        "let_in": found.worker_pass.id if valid and found.worker_pass else None,
    }


async def _check_pass(request: web.Request, once: str, code: str) -> web.StreamResponse:
    """A worker's pass, checked as chat's `/pass <code>` checks it (the guard's message to
    the engine, so a refusal is recorded as in chat); the page shows what it found."""
    app = desk.app_of(request)
    await handled(request, once, text=f"/pass {code}")
    async with app.db.reading() as session:
        ctx = staff_context(request, session, text=f"/pass {code}")
        found = await renovation_passes.checked(ctx, code)
        if found.verdict in ("unknown", "not_allowed"):
            status = 404 if found.verdict == "unknown" else 403
            return await _render(request, code=code, problem=_said(ctx, found.reply), status=status)
        result = _pass_verdict(ctx, found)
    return await _render(request, code=code, result=result)


async def let_in(request: web.Request) -> web.StreamResponse:
    """The guard lets the worker in: chat's "let in" button, pressed on the page and handled
    by the engine (checked again now, recorded with who and when, audited)."""
    app = desk.app_of(request)
    form = await request.post()
    code = " ".join(str(form.get("code") or "").split())[:MAX_CODE]
    try:
        pass_id = int(str(form.get("worker_pass") or ""))
    except ValueError:
        problem = _words(request, "web.gate.error.empty")
        return await _render(request, code=code, problem=problem, status=400)
    pressed = renovation_passes.LetIn(worker_pass=pass_id).choice("renopass.let_in").value
    answers = await handled(request, _once(form), option=pressed)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        after = await renovation_passes.checked(ctx, code) if code else None
        if not answers:  # the same form again: where the pass stands now
            if after is None or after.verdict in ("unknown", "not_allowed"):
                return await _render(request)
            return await _render(request, code=code, result=_pass_verdict(ctx, after))
        answer = answers[0].payload
        done = answer.get("key") == "renopass.let_in.done"
        result = {
            "tone": "ok" if done else "stop",
            "headline": ctx.catalogs.text(
                ctx.locale, "renopass.web.let_in" if done else "renopass.web.refused"
            ),
            "reason": str(answer.get("text") or ""),
            "details": _pass_details(ctx, after.card if after else None),
            "use": None,
            "let_in": None,
        }
    return await _render(request, code="" if done else code, result=result)
