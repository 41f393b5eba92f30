"""A unit's move-in on the desk's pages: open it, tick the forms and items, upload photos of
the papers, send the inspection, see the readings and the defects' rework, record the
owner's sign-off by their typed name, complete it, and print the move-in pack.

Opening it and the checklist's buttons are chat's own (`/movein <unit>` and the card's
buttons) handed to the engine from the `web` channel, so the owner and the repair group
are told as from chat. The papers are private: the page, the photos and the pack are the
desk's and the supervisors' only (`handlers.movein_papers.sees_papers`), checked on every
view. A paper photographed in chat (Telegram keeps it by its file id) is fetched through the
running channel on its first view, as a ticket's photos are, and kept with the papers.
The owner signs off by typing their name; a signature drawn on the page's canvas (a small
script of ours, `static/movein.js`) is kept with the papers.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import desk, photos
from bot.web.acting import handled, staff_context
from bot.web.units import qr_image
from dialogs.sending import send
from handlers import movein, movein_invitation, movein_page, movein_papers
from handlers.documents.files import atomic
from handlers.rules import movein as rules
from storage import signals

if TYPE_CHECKING:
    from bot.app import App
    from storage.models import Document

PAPER_MOST = 8_000_000  # bytes of one photo
PICTURES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
SAID = "movein_said"
SIGNATURE_PREFIX = "data:image/png;base64,"
SIGNATURE_MOST = 700_000  # characters of the drawn signature's data URL
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def routes() -> list[web.RouteDef]:
    return [
        web.get(r"/units/{id:\d+}/movein", page),
        web.post(r"/units/{id:\d+}/movein/open", open_it),
        web.post(r"/units/{id:\d+}/movein/press", press),
        web.post(r"/units/{id:\d+}/movein/paper", paper),
        web.post(r"/units/{id:\d+}/movein/signoff", sign_off),
        web.post(r"/units/{id:\d+}/movein/typed/{what:[a-z]+}", typed),
        web.get(r"/units/{id:\d+}/movein/print", print_pack),
        web.post(r"/units/{id:\d+}/movein/print", print_with_invitation),
        web.get(r"/movein/papers/{id:\d+}", paper_photo),
    ]


def _here(request: web.Request) -> str:
    return f"{desk.prefix_of(request)}/units/{request.match_info['id']}/movein"


async def _page(
    request: web.Request,
    template: str,
    status: int = 200,
    problem: str = "",
    *,
    text: str = "",
    form: dict[str, str] | None = None,
    **slip: Any,
) -> web.StreamResponse:
    app = desk.app_of(request)
    found = desk.desk_of(request)
    async with app.db.reading() as session:
        shown = await movein_page.page(session, found.staff, int(request.match_info["id"]))
    if shown is None:
        return desk.not_yours(request)
    said = found.session.pop(SAID, None) if status == 200 else None
    papers = shown.found.papers if shown.found else []
    context = desk.context(
        request,
        shown=shown,
        said=said or [],
        problem=problem,
        problem_text=text,
        form=form or {},
        kinds=rules.PAPER_KINDS,
        rooms=rules.ROOMS,
        showable={d.id for d in papers if _showable(app, d)},
        now=app.clock.now(),
        **slip,
    )
    return aiohttp_jinja2.render_template(template, request, context, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    return await _page(request, "movein_unit.html")


async def print_pack(request: web.Request) -> web.StreamResponse:
    return await _page(request, "movein_print.html")


async def print_with_invitation(request: web.Request) -> web.StreamResponse:
    """The move-in pack with the invitation slip of an owner not bound yet: a fresh code
    (the earlier one voided), shown only in this answer, never in a URL."""
    app = desk.app_of(request)
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        found = await movein_invitation.for_pack(ctx, int(request.match_info["id"]))
    if found is None:
        raise web.HTTPNotFound()
    move_in, issued = found
    return await _page(
        request,
        "movein_print.html",
        code=issued.code,
        role="delegate" if move_in.delegate_id else "owner",
        expires=issued.expires_at.astimezone(app.settings.tz).date(),
        qr=await asyncio.to_thread(qr_image, issued.code),
    )


async def _said(request: web.Request, once: str, **given: str) -> None:
    answers = await handled(request, once, **given)
    desk.desk_of(request).session[SAID] = [row.payload.get("text", "") for row in answers]


async def open_it(request: web.Request) -> web.StreamResponse:
    """Open the unit's move-in as `/movein <unit>` does in chat (the code is shown once)."""
    app = desk.app_of(request)
    found = desk.desk_of(request)
    form = await request.post()
    async with app.db.reading() as session:
        shown = await movein_page.page(session, found.staff, int(request.match_info["id"]))
    if shown is None:
        raise web.HTTPNotFound()
    await _said(
        request, str(form.get("once") or uuid.uuid4().hex)[:40], text=f"/movein {shown.unit.label}"
    )
    raise web.HTTPSeeOther(_here(request))


async def press(request: web.Request) -> web.StreamResponse:
    """One of the checklist card's buttons, pressed on the page."""
    form = await request.post()
    value = str(form.get("value") or "")
    if not value.startswith("act:mi_"):
        raise web.HTTPBadRequest()
    await _said(request, str(form.get("once") or uuid.uuid4().hex)[:40], option=value[:120])
    raise web.HTTPSeeOther(_here(request))


async def paper(request: web.Request) -> web.StreamResponse:
    """A photo of a paper, kept under the data folder and recorded as a private document."""
    app = desk.app_of(request)
    form = await request.post()
    kind = str(form.get("kind") or "")
    upload = form.get("photo")
    if kind not in rules.PAPER_KINDS:
        return await _page(request, "movein_unit.html", 400, "movein.web.kind_missing")
    if not isinstance(upload, web.FileField) or not upload.filename:
        return await _page(request, "movein_unit.html", 400, "movein.web.photo_missing")
    suffix = Path(upload.filename).suffix.lower()
    data = upload.file.read(PAPER_MOST + 1)
    if suffix not in PICTURES or len(data) > PAPER_MOST:
        return await _page(request, "movein_unit.html", 400, "movein.web.photo_kind")
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        move_in = await movein_page.open_for_page(ctx, int(request.match_info["id"]))
        if move_in is None:
            raise web.HTTPNotFound()
        path = Path(app.settings.data_dir) / "papers" / f"{move_in.id}-{uuid.uuid4().hex}{suffix}"
        await asyncio.to_thread(atomic, path, lambda target: _write(target, data))
        await movein_papers.add_paper(ctx, move_in, kind, stored_path=str(path))
    raise web.HTTPSeeOther(_here(request))


async def typed(request: web.Request) -> web.StreamResponse:
    """The household, a fee with its receipt, the keys or the re-inspection's time, read
    as the chat flows read them; the owner and the repair group are told as from chat."""
    app = desk.app_of(request)
    posted = await request.post()
    form = {key: str(value)[:500] for key, value in posted.items() if isinstance(value, str)}
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        move_in = await movein_page.open_for_page(ctx, int(request.match_info["id"]))
        if move_in is None:
            raise web.HTTPNotFound()
        done = await movein_page.typed_on_page(ctx, move_in, request.match_info["what"], form)
        if done.problem is None and done.pushes:
            await send(
                session, done.pushes, catalogs=app.catalogs, settings=app.settings, now=ctx.now
            )
            await signals.notify(session, signals.OUTBOX)  # other processes deliver
    if done.problem is not None:
        text = app.catalogs.text(
            desk.desk_of(request).locale, done.problem.key, done.problem.params
        )
        return await _page(request, "movein_unit.html", 400, text=text, form=form)
    raise web.HTTPSeeOther(_here(request))


def _signature(posted: str) -> bytes | None:
    """The signature drawn on the page's canvas, a PNG; None when none (or not a PNG)."""
    if not posted.startswith(SIGNATURE_PREFIX) or len(posted) > SIGNATURE_MOST:
        return None
    try:
        data = base64.b64decode(posted[len(SIGNATURE_PREFIX) :], validate=True)
    except ValueError:
        return None
    return data if data.startswith(PNG_MAGIC) else None


def _write(target: Path, data: bytes) -> None:
    target.write_bytes(data)


async def sign_off(request: web.Request) -> web.StreamResponse:
    """The owner signs off on the desk's screen by typing their name."""
    app = desk.app_of(request)
    form = await request.post()
    name = str(form.get("name") or "").strip()[:50]
    if not name:
        return await _page(request, "movein_unit.html", 400, "movein.web.name_missing")
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        move_in = await movein_page.open_for_page(ctx, int(request.match_info["id"]))
        if move_in is None:
            raise web.HTTPNotFound()
        refused = await movein.sign_off(ctx, move_in, f"name:{name}")
        drawn = _signature(str(form.get("signature") or ""))
        if refused is None and drawn is not None:
            path = Path(app.settings.data_dir) / "papers" / f"{move_in.id}-{uuid.uuid4().hex}.png"
            await asyncio.to_thread(atomic, path, lambda target: _write(target, drawn))
            await movein_papers.add_paper(ctx, move_in, "signature", stored_path=str(path))
    if refused is not None:
        return await _page(request, "movein_unit.html", 400, "movein.web.not_yet")
    raise web.HTTPSeeOther(_here(request))


def _showable(app: App, found: Document) -> bool:
    """Whether the page can show the paper: uploaded here, our copy of a chat photo, or a
    chat photo whose channel runs here to fetch it ("received in chat" otherwise)."""
    if found.stored_path:
        return True
    root = Path(app.settings.data_dir).resolve()
    if found.file_ref and Path(found.file_ref).resolve().is_relative_to(root):
        return True
    return bool(found.file_ref) and found.channel in app.photo_sources


def _kept(app: App, found: Document) -> Path | None:
    """Our copy of the paper: uploaded on the page or fetched before (`stored_path`), or
    the channel's own download (a WeChat photo's file reference), inside the data folder."""
    root = Path(app.settings.data_dir).resolve()
    for candidate in (found.stored_path, found.file_ref):
        if candidate:
            path = Path(candidate).resolve()
            if path.is_relative_to(root) and path.is_file():
                return path
    return None


async def _fetched(app: App, found: Document) -> Path | None:
    """A paper photographed in chat (Telegram keeps it by its file id): fetched through the
    running channel on its first view and kept with the papers for the next."""
    if found.id is None or found.channel not in app.photo_sources:
        return None
    path = Path(app.settings.data_dir) / "papers" / found.channel / f"{found.id}.jpg"
    if not await photos.fetch(app, found.channel, found.file_ref, path):
        return None
    async with app.db.transaction() as session:
        if not await movein_papers.keep_paper(session, found.id, str(path)):
            path.unlink(missing_ok=True)  # forgotten while it was fetched
            return None
    return path


async def paper_photo(request: web.Request) -> web.StreamResponse:
    """A paper's photo, for those who may see it; no one else learns it exists."""
    app = desk.app_of(request)
    async with app.db.reading() as session:
        found = await movein_papers.paper_for(
            staff_context(request, session), int(request.match_info["id"])
        )
    if found is None:
        raise web.HTTPNotFound()
    path = await asyncio.to_thread(_kept, app, found) or await _fetched(app, found)
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(
        path,
        headers={
            "Content-Type": PICTURES.get(path.suffix.lower(), "application/octet-stream"),
            "Cache-Control": "private, no-store",
        },
    )
