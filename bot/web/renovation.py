"""Renovations on the desk's pages: the list (in review, in progress, all) with the
counter's application form; one renovation's page with its details, papers (the desk's
and the managers' only), reviews, permit, passes, fee and the checks during the work.

Approving and the completion check's "passed" are the card's own buttons pressed on the
page, handed to the engine as the desk's message (`bot.web.acting.handled`), so chat's
own handler runs with chat's checks; asking for changes, refusing, a failed check and the
fee's receipt call chat's own use-cases (`handlers.renovation_review`) as the signed-in
desk in one transaction. What they say to others leaves through `dialogs.sending.send`.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import handled, staff_context
from handlers import renovation as reno
from handlers import renovation_pages, renovation_review, renovation_watch
from handlers.core.context import Context
from handlers.core.messages import Reply
from handlers.documents.files import atomic

SAID = "renovation_said"
PAPER_MOST = 8_000_000  # bytes of one photo
PICTURES = (".jpg", ".jpeg", ".png")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/renovation", listing),
        web.post("/renovation/apply", apply),
        web.get(r"/renovation/{id:\d+}", page),
        web.post(r"/renovation/{id:\d+}/press", press),
        web.post(r"/renovation/{id:\d+}/paper", paper),
        web.post(r"/renovation/{id:\d+}/{what:changes|refuse|failed|fee}", typed),
    ]


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


async def _done(request: web.Request, ctx: Context, replies: list[Reply]) -> None:
    await acting.answered(request, ctx, replies, SAID)


async def _listing(
    request: web.Request, form: dict[str, str], problems: dict[str, str], status: int = 200
) -> web.StreamResponse:
    app = desk.app_of(request)
    show = request.query.get("show", "open")
    unit = request.query.get("unit", "")
    unit_id = int(unit) if unit.isdigit() and len(unit) < 10 else None
    async with app.db.reading() as session:
        groups = await renovation_pages.listing(staff_context(request, session), show, unit_id)
    context = desk.context(
        request,
        groups=groups,
        show=show,
        unit_id=unit_id,
        form=form,
        problems=problems,
        said=_said(request),
        changes=reno.CHANGES,
        fields=renovation_pages.FIELDS,
    )
    return aiohttp_jinja2.render_template("renovation_list.html", request, context, status=status)


async def listing(request: web.Request) -> web.StreamResponse:
    return await _listing(request, {}, {})


async def apply(request: web.Request) -> web.StreamResponse:
    """An application filed at the counter for the unit's owner."""
    app = desk.app_of(request)
    posted = await request.post()
    form = {name: str(posted.get(name) or "")[:2000] for name in renovation_pages.FIELDS}
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        problems, replies = await renovation_pages.apply_from_form(ctx, form)
        if not problems:
            await _done(request, ctx, replies)
    if problems:
        return await _listing(request, form, problems, status=400)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/renovation")


async def page(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        shown = await renovation_pages.page(ctx, int(request.match_info["id"]))
        if shown is None:
            return desk.not_yours(request)
        watch = await renovation_watch.watch_view(session, shown.renovation.id or 0)
        context = desk.context(
            request,
            shown=shown,
            said=_said(request),
            approve=reno.Approve(shown.renovation.id or 0).value(),
            passed=reno.Passed(shown.renovation.id or 0).value(),
            once=uuid.uuid4().hex,
            watch=watch,
        )
        return aiohttp_jinja2.render_template("renovation_page.html", request, context)


def _here(request: web.Request) -> str:
    return f"{desk.prefix_of(request)}/renovation/{request.match_info['id']}"


async def press(request: web.Request) -> web.StreamResponse:
    """Approve, or the completion check passed: the card's button pressed on the page."""
    form = await request.post()
    value = str(form.get("value") or "")
    ref = request.match_info["id"]
    if value not in (reno.Approve(int(ref)).value(), reno.Passed(int(ref)).value()):
        raise web.HTTPBadRequest()
    once = str(form.get("once") or uuid.uuid4().hex)[:40]
    answers = await handled(request, once, option=value)
    desk.desk_of(request).session[SAID] = [row.payload.get("text", "") for row in answers]
    raise web.HTTPSeeOther(_here(request))


async def typed(request: web.Request) -> web.StreamResponse:
    """What to change, why refused, what to redo, or the fee's receipt."""
    app = desk.app_of(request)
    posted = await request.post()
    text = str(posted.get("text") or "").strip()[:1000]
    ref = int(request.match_info["id"])
    what = request.match_info["what"]
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        if len(text) < 2:
            replies = [Reply("reno.web.text_needed")]
        elif what == "changes":
            replies = await renovation_review.ask_changes(ctx, ref, text)
        elif what == "refuse":
            replies = await renovation_review.refuse(ctx, ref, text)
        elif what == "failed":
            replies = await renovation_review.failed(ctx, ref, text)
        else:
            replies = await renovation_review.record_fee(ctx, ref, text[:50])
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_here(request))


def _write(target: Path, data: bytes) -> None:
    target.write_bytes(data)


async def paper(request: web.Request) -> web.StreamResponse:
    """A paper brought to the counter (the authority's approval, a power of attorney …),
    photographed and kept under the data folder as the renovation's private paper."""
    app = desk.app_of(request)
    form = await request.post()
    kind = str(form.get("kind") or "")
    upload = form.get("photo")
    data = b""
    suffix = ""
    if isinstance(upload, web.FileField) and upload.filename:
        suffix = Path(upload.filename).suffix.lower()
        data = upload.file.read(PAPER_MOST + 1)
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        ref = int(request.match_info["id"])
        if (
            kind not in reno.PAPER_KINDS
            or suffix not in PICTURES
            or not data
            or len(data) > PAPER_MOST
        ):
            replies = [Reply("reno.web.paper_bad")]
        elif not reno.sees_papers(ctx.staff, await renovation_pages.community_of(ctx, ref)):
            raise web.HTTPNotFound()
        else:
            path = Path(app.settings.data_dir) / "papers" / f"reno-{ref}-{uuid.uuid4().hex}{suffix}"
            await asyncio.to_thread(atomic, path, lambda target: _write(target, data))
            replies = await renovation_review.attach_paper(ctx, ref, kind, stored_path=str(path))
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_here(request))
