"""Visitors at the gate (访客登记) on the desk's pages: today's expected, in-site and recent
visitors of the communities the signed-in staff keep the gate of, a code check, and a
walk-in registration.

Checking a code is chat's `/visitor CODE` and the 进入 / 不放行 / 离开 buttons are chat's
own, each handed to the engine as the signed-in staff's message from the `web` channel
(`acting.handled`), so the visit's history, the audit entry and the host's notice are
written as from chat; the page shows what the engine answered and the visit as it stands
after (`handlers.visitors_gate.checked`). A walk-in filed on the page goes through
`handlers.visitors_walkin.register` in one transaction, as the desk's counter intake does:
the unit's residents are asked in chat at once and their answer comes back to the desk's
notifications. Codes travel in POST forms, never in a URL. The page is meant for a phone
at the gate as much as for the desk's screen.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import desk
from bot.web.acting import handled, staff_context
from dialogs.sending import send
from handlers import visitors_gate, visitors_walkin
from handlers.core.context import Context
from handlers.core.messages import Reply
from handlers.directory import community_of
from handlers.rules import slip as slip_rules
from handlers.rules import visitors as rules
from handlers.rules.phone import normalise_phone
from storage import signals

MAX_CODE = 40
# The buttons the page may press: chat's own actions of a visit at the gate.
PRESSABLE = ("act:visit_in:", "act:visit_out:", "act:visit_no:")
FIELDS = ("unit", "name", "phone", "purpose", "companions", "plate")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/visitors", page),
        web.post("/visitors/check", check),
        web.post("/visitors/press", press),
        web.post("/visitors/walkin", walk_in),
    ]


def _once(form: Any) -> str:
    return str(form.get("once") or "")[:40] or uuid.uuid4().hex


def _code(form: Any) -> str:
    return " ".join(str(form.get("code") or "").split())[:MAX_CODE]


def _said(ctx: Context, reply: Reply) -> str:
    return ctx.catalogs.text(ctx.locale, reply.key, reply.params)


async def _render(
    request: web.Request,
    *,
    code: str = "",
    result: dict[str, Any] | None = None,
    problem: str = "",
    walkin: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    filed: str = "",
    status: int = 200,
) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        found = await visitors_gate.rows(ctx)
        guard = visitors_gate.guards(ctx)
    waiting = [r for r in found if r.status in rules.WAITING]
    inside = [r for r in found if r.status == rules.ARRIVED]
    recent = [r for r in found if r not in waiting and r not in inside]
    context = desk.context(
        request,
        once=uuid.uuid4().hex,
        guard=guard,
        waiting=waiting,
        inside=inside,
        recent=recent,
        overstaying=sum(1 for r in inside if r.overstaying),
        code=code,
        result=result,
        problem=problem,
        walkin=walkin or {},
        problems=problems or {},
        filed=filed,
        fields=FIELDS,
    )
    return aiohttp_jinja2.render_template("visitors_page.html", request, context, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    return await _render(request)


def _details(ctx: Context, card: Any) -> list[tuple[str, str]]:
    if not card:
        return []
    say = ctx.catalogs.format
    locale = ctx.locale
    rows = [
        ("visitor.web.code", card["code"]),
        ("visitor.web.visitor", f"{card['name']} {card['phone']}".removesuffix(" -")),
        ("visitor.web.unit", card["unit"]),
        ("visitor.web.host", card["host"]),
        ("visitor.web.purpose", card["purpose"]),
        ("visitor.web.companions", str(card["companions"])),
        ("visitor.web.plate", card["plate"]),
        ("visitor.web.window", f"{say(locale, card['from'])} – {say(locale, card['to'])}"),
        ("visitor.web.status", card["status"]),
    ]
    return [(ctx.catalogs.text(locale, key), say(locale, value)) for key, value in rows]


def _result(ctx: Context, found: visitors_gate.Checked, said: str = "") -> dict[str, Any]:
    """A check as the page shows it: the verdict in big letters, the visit's particulars,
    and chat's buttons for what may be done now."""
    verdict = found.verdict
    ok = rules.may_enter(verdict) or verdict == rules.INSIDE
    choices = visitors_gate.buttons(found.visit, verdict) if found.visit else ()
    shown = found.card["verdict"] if found.card else ""
    return {
        "tone": "ok" if ok else "stop",
        "headline": ctx.catalogs.text(ctx.locale, f"visitor.web.verdict.{verdict}"),
        "reason": said or ctx.catalogs.format(ctx.locale, shown),
        "details": _details(ctx, found.card),
        "buttons": [
            (choice.value, ctx.catalogs.text(ctx.locale, choice.key, choice.params))
            for choice in choices
        ],
    }


async def checked_page(request: web.Request, once: str, code: str) -> web.StreamResponse:
    """The check as chat's `/visitor CODE` (kept in the visit's history as from chat), and
    the page showing what it found; the gate page hands visitors' codes here too."""
    app = desk.app_of(request)
    await handled(request, once, text=f"/visitor {code}")
    async with app.db.reading() as session:
        ctx = staff_context(request, session, text=f"/visitor {code}")
        found = await visitors_gate.checked(ctx, code)
        if found.verdict in ("unknown", "not_allowed"):
            status = 404 if found.verdict == "unknown" else 403
            return await _render(request, code=code, problem=_said(ctx, found.reply), status=status)
        result = _result(ctx, found)
    return await _render(request, code=code, result=result)


async def check(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    code = _code(form)
    if not code:
        problem = desk.app_of(request).catalogs.text(
            desk.desk_of(request).locale, "visitor.web.error.empty"
        )
        return await _render(request, problem=problem, status=400)
    return await checked_page(request, _once(form), code)


async def press(request: web.Request) -> web.StreamResponse:
    """进入 / 不放行 / 离开 pressed on the page: chat's button, handled by the engine."""
    app = desk.app_of(request)
    form = await request.post()
    code = _code(form)
    value = str(form.get("value") or "")[:80]
    if not value.startswith(PRESSABLE):
        raise web.HTTPBadRequest()
    answers = await handled(request, _once(form), option=value)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        after = await visitors_gate.checked(ctx, code) if code else None
        if after is None or after.verdict in ("unknown", "not_allowed"):
            return await _render(request)
        said = str(answers[0].payload.get("text") or "") if answers else ""
        result = _result(ctx, after, said)
    return await _render(request, code=code, result=result)


def _walkin_form(form: Any) -> dict[str, str]:
    return {name: " ".join(str(form.get(name) or "").split())[:100] for name in FIELDS}


async def walk_in(request: web.Request) -> web.StreamResponse:
    """A walk-in registered at the gate: checked as the chat flow checks it, then filed
    and the unit's residents asked at once."""
    app = desk.app_of(request)
    form = await request.post()
    typed = _walkin_form(form)
    problems: dict[str, str] = {}
    filed, code = "", ""
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        say = app.catalogs.text
        locale = ctx.locale
        community_id = visitors_walkin.gate_community(ctx)
        if community_id is None:  # company-wide: the first community, as in chat
            found = await community_of(ctx)
            community_id = found.id if found else None
        if not visitors_gate.guards(ctx) or community_id is None:
            raise web.HTTPForbidden()
        unit = None
        try:
            unit = await visitors_walkin.find_unit(ctx, community_id, typed["unit"])
        except visitors_walkin.Refused as refused:
            problems["unit"] = say(locale, refused.key, refused.params)
        if not typed["name"] or any(ch.isdigit() for ch in typed["name"]):
            problems["name"] = say(locale, "dialog.error.name")
        phone = normalise_phone(typed["phone"]) if typed["phone"] else ""
        if phone is None:
            problems["phone"] = say(locale, "dialog.error.phone", {"value": typed["phone"]})
        plate = slip_rules.parse_plate(typed["plate"]) if typed["plate"] else ""
        if plate is None:
            problems["plate"] = say(locale, "visitor.error.plate", {"value": typed["plate"]})
        companions = 0
        if typed["companions"]:
            try:
                companions = rules.companions(typed["companions"])
            except slip_rules.Invalid as error:
                problems["companions"] = say(locale, error.key, error.params)
        if not typed["purpose"]:
            problems["purpose"] = say(locale, "dialog.error.empty")
        if unit is not None and not problems:
            visit, replies = await visitors_walkin.register(
                ctx,
                unit,
                name=typed["name"],
                phone=phone or "",
                purpose=typed["purpose"],
                companions=companions,
                plate=plate or "",
            )
            here = [r for r in replies if r.to is None]
            filed = " ".join(say(locale, r.key, r.params) for r in here)
            await send(
                session,
                [r for r in replies if r.to is not None],
                catalogs=app.catalogs,
                settings=app.settings,
                now=app.clock.now(),
            )
            await signals.notify(session, signals.OUTBOX)
            code = visit.code
    if problems or not code:
        return await _render(request, walkin=typed, problems=problems, status=400)
    async with app.db.reading() as session:  # the walk-in as the gate now sees it
        ctx = staff_context(request, session)
        result = _result(ctx, await visitors_gate.checked(ctx, code), filed)
    return await _render(request, code=code, result=result, filed=filed)
