"""Units and people: the roster search, a unit's page, binding requests, invitation codes
with their printable slip, payments, and importing a roster file.

What is typed to search is kept in the session (no unit or phone in a URL); a unit is
shown by its row id. The queries and the checks are `handlers.unit_pages`; approving or
refusing a binding request is pressing its chat card's button, sent to the engine from
the `web` channel (`/desk/say`), so the resident is told exactly as from chat. An
invitation code is shown once, in the answer to the form that issued it, with a slip to
print whose QR code is an inline image: the code is never in a URL. A refused form comes
back with what was typed and each problem next to its field.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
import tempfile
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import qrcode
from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.web import desk
from bot.web.acting import staff_context
from bot.web.ticket import conversation
from dialogs.sending import send
from handlers import roster, unit_pages
from handlers.core.messages import Text
from handlers.documents.tables import TableError, read_table
from handlers.rules.binding import ROLES
from storage import signals

SEARCH = "units_search"
DONE = "units_done"
IMPORT_MOST = 1_000_000  # bytes; the listener takes no larger request body (bot/http.py)
SUFFIXES = (".csv", ".xlsx", ".xlsm")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/units", page),
        web.post("/units", find),
        web.get(r"/units/{id:\d+}", unit_page),
        web.post(r"/units/{id:\d+}/pay", pay),
        web.post(r"/units/{id:\d+}/invite", invite),
        web.get("/units/import", import_page),
        web.post("/units/import", import_file),
        web.get("/bindings", bindings),
    ]


def _text(request: web.Request, text: Text) -> str:
    app = desk.app_of(request)
    return app.catalogs.text(desk.desk_of(request).locale, text.key, text.params)


# ---- the search -----------------------------------------------------------------------------


async def page(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    found = desk.desk_of(request)
    typed = str(found.session.get(SEARCH) or "")
    async with app.db.reading() as session:
        result = await unit_pages.search(session, found.staff, typed)
        communities = await unit_pages.communities_seen(session, found.staff)
        waiting = len(await unit_pages.binding_requests(session, found.staff))
        acts = any(_acts(request, session, c.id or 0) for c in communities)
    context = desk.context(
        request,
        typed=typed,
        result=result,
        communities=communities,
        waiting=waiting,
        acts=acts,
    )
    return aiohttp_jinja2.render_template("units_search.html", request, context)


def _acts(request: web.Request, session: AsyncSession, community_id: int) -> bool:
    """Whether the desk may act for units of this community (checked again when it does)."""
    return unit_pages.may_act(staff_context(request, session), community_id) is not None


async def find(request: web.Request) -> web.StreamResponse:
    """Search (the text kept in the session); a label naming one unit opens its page."""
    app = desk.app_of(request)
    found = desk.desk_of(request)
    form = await request.post()
    typed = "" if form.get("clear") else str(form.get("q") or "").strip()[:60]
    found.session[SEARCH] = typed
    if typed:
        async with app.db.reading() as session:
            result = await unit_pages.search(session, found.staff, typed)
        if result.exact is not None:
            raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/units/{result.exact.id}")
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/units")


# ---- a unit's page ---------------------------------------------------------------------------


async def _unit(
    request: web.Request,
    *,
    payment: unit_pages.PaymentForm | None = None,
    problems: dict[str, Text] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    app = desk.app_of(request)
    found = desk.desk_of(request)
    now = app.clock.now()
    async with app.db.reading() as session:
        view = await unit_pages.unit_view(
            session,
            found.staff,
            int(request.match_info["id"]),
            today=now.astimezone(app.settings.tz).date(),
            now=now,
            energy_rate=app.settings.public_energy_rate,
        )
        acts = view is not None and _acts(request, session, view.community.id or 0)
    if view is None:
        return desk.not_yours(request)
    done = found.session.pop(DONE, None) if status == 200 else None
    context = desk.context(
        request,
        view=view,
        payment=payment or unit_pages.PaymentForm(),
        problems=problems or {},
        done=done,
        acts=acts,
        roles=ROLES,
        conversation=(await conversation(request))[-3:] if view.requests else [],
        back=request.path,
    )
    return aiohttp_jinja2.render_template("units_unit.html", request, context, status=status)


async def unit_page(request: web.Request) -> web.StreamResponse:
    return await _unit(request)


async def pay(request: web.Request) -> web.StreamResponse:
    """Record a payment with its receipt number, as chat's `/paid`."""
    app = desk.app_of(request)
    found = desk.desk_of(request)
    form = unit_pages.PaymentForm.of(await request.post())
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        unit = await unit_pages.unit_for_action(ctx, int(request.match_info["id"]))
        if unit is None:
            raise web.HTTPNotFound()
        paid = await unit_pages.pay(ctx, unit, form)
        if paid.done is not None:
            await send(
                session,
                paid.notices,
                catalogs=app.catalogs,
                settings=app.settings,
                now=app.clock.now(),
            )
            await signals.notify(session, signals.OUTBOX)  # other processes deliver
    if paid.done is None:
        return await _unit(request, payment=form, problems=paid.problems, status=400)
    found.session[DONE] = _text(request, Text(paid.done.key, paid.done.params))
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/units/{unit.id}")


async def invite(request: web.Request) -> web.StreamResponse:
    """Issue an invitation code; the answer is the slip to print, the only place the code
    is ever shown."""
    app = desk.app_of(request)
    form = await request.post()
    role = str(form.get("role") or "")[:16]
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        unit = await unit_pages.unit_for_action(ctx, int(request.match_info["id"]))
        if unit is None:
            raise web.HTTPNotFound()
        invitation = await unit_pages.invite(ctx, unit, role)
    if isinstance(invitation, Text):
        return await _unit(request, problems={"role": invitation}, status=400)
    code = invitation.issued.code
    context = desk.context(
        request,
        invitation=invitation,
        code=code,
        expires=invitation.issued.expires_at.astimezone(app.settings.tz).date(),
        qr=await asyncio.to_thread(qr_image, code),
        now=app.clock.now(),
    )
    return aiohttp_jinja2.render_template("units_invite.html", request, context)


def qr_image(text: str) -> str:
    """A QR code of `text` as a data: URI (a PNG), shown inline."""
    image = qrcode.make(text, border=2)
    out = io.BytesIO()
    image.save(out)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


# ---- binding requests ---------------------------------------------------------------------


async def bindings(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    found = desk.desk_of(request)
    async with app.db.reading() as session:
        requests = await unit_pages.binding_requests(session, found.staff)
    context = desk.context(
        request,
        requests=requests,
        conversation=(await conversation(request))[-3:],
        back=request.path,
    )
    return aiohttp_jinja2.render_template("units_bindings.html", request, context)


# ---- importing a roster file -----------------------------------------------------------------


def _import(
    request: web.Request,
    *,
    kind: str = "",
    problems: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    summary: roster.Summary | None = None,
    status: int = 200,
) -> web.StreamResponse:
    context = desk.context(
        request,
        kinds=roster.KINDS,
        kind=kind,
        problems=problems or {},
        errors=errors or [],
        summary=summary,
        most=IMPORT_MOST,
    )
    return aiohttp_jinja2.render_template("units_import.html", request, context, status=status)


async def import_page(request: web.Request) -> web.StreamResponse:
    return _import(request)


def _file_name(name: str) -> str:
    """The uploaded file's own name, tidied: the errors name it, as the CLI's do."""
    base = re.sub(r"[^\w.\-]", "_", Path(name.replace("\\", "/")).name)[-100:]
    return base.lstrip(".") or "roster"


async def import_file(request: web.Request) -> web.StreamResponse:
    """A roster file checked and imported as `frontdesk import` does: every bad line
    listed and nothing imported, or the counts."""
    app = desk.app_of(request)
    form = await request.post()
    kind = str(form.get("kind") or "")
    upload = form.get("file")
    problems: dict[str, Any] = {}
    if kind not in roster.KINDS:
        problems["kind"] = Text("units.import.kind_missing")
    if not isinstance(upload, web.FileField) or not upload.filename:
        problems["file"] = Text("units.import.file_missing")
        return _import(request, kind=kind, problems=problems, status=400)
    name = _file_name(upload.filename)
    if not name.lower().endswith(SUFFIXES):
        problems["file"] = Text("units.import.file_kind")
    data = upload.file.read(IMPORT_MOST + 1)
    if len(data) > IMPORT_MOST:
        problems["file"] = Text("units.import.too_large", {"most": IMPORT_MOST // 1000})
    if problems:
        return _import(request, kind=kind, problems=problems, status=400)
    try:
        table = await asyncio.to_thread(_read, name, data)
        async with app.db.transaction() as session:
            summary = await unit_pages.import_roster(staff_context(request, session), kind, table)
    except TableError as refused:  # a RosterError too: nothing was imported
        return _import(request, kind=kind, errors=refused.errors, status=400)
    return _import(request, kind=kind, summary=summary)


def _read(name: str, data: bytes) -> Any:
    with tempfile.TemporaryDirectory(prefix="frontdesk-import-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        return read_table(path)
