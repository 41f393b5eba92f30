"""Community life on the desk's pages (/desk/activities): for each community the desk runs,
the notice board (last renewed, with the photo the desk sent, and when next due; the
renewal itself is the task in the desk's group), the activities planned, announced and
done with their sign-ups (names and flats: the page is staff's only), each done one's
record and photos; and the plan's form.

Saving a plan calls chat's own use-case (`handlers.activities.plan`) as the signed-in desk
in one transaction, with chat's checks; announcing is chat's own button pressed on the
page and handed to the engine as the desk's message (`bot.web.acting.handled`).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk, photos
from bot.web.acting import handled, staff_context
from handlers import activities, activities_pages, board
from handlers.core.context import Context
from handlers.core.messages import Reply
from handlers.documents.files import atomic

SAID = "activities_said"
PHOTO_MOST = 8_000_000  # bytes of one photo
PICTURES = (".jpg", ".jpeg", ".png")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/activities", listing),
        web.post("/activities/plan", plan),
        web.post(r"/activities/{id:\d+}/announce", announce),
        web.get(r"/activities/{id:\d+}/photos/{photo:\d+}", photo),
        web.post(r"/activities/{id:\d+}/record", record),
    ]


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


async def _done(request: web.Request, ctx: Context, replies: list[Reply]) -> None:
    await acting.answered(request, ctx, replies, SAID)


async def _listing(
    request: web.Request, form: dict[str, str], chosen: list[str], problems: dict[str, str]
) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        communities = await activities_pages.desk_page(staff_context(request, session))
    context = desk.context(
        request,
        communities=communities,
        form=form,
        chosen=chosen,
        problems=problems,
        said=_said(request),
        fields=activities_pages.FIELDS,
        departments=activities.DEPARTMENTS,
        once=uuid.uuid4().hex,
    )
    status = 400 if problems else 200
    return aiohttp_jinja2.render_template("activities_list.html", request, context, status=status)


async def listing(request: web.Request) -> web.StreamResponse:
    return await _listing(request, {}, [], {})


async def plan(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    posted = await request.post()
    form = {name: str(posted.get(name) or "")[:2000] for name in activities_pages.FIELDS}
    chosen = [str(v)[:20] for v in posted.getall("departments", [])][:10]
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        problems, replies = await activities_pages.plan_from_form(ctx, form, chosen)
        if not problems:
            await _done(request, ctx, replies)
    if problems:
        return await _listing(request, form, chosen, problems)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/activities")


async def announce(request: web.Request) -> web.StreamResponse:
    """Chat's "announce to residents" button, pressed on the page."""
    posted = await request.post()
    value = activities.AnnounceActivity(int(request.match_info["id"])).value()
    once = str(posted.get("once") or uuid.uuid4().hex)[:40]
    answers = await handled(request, once, option=value)
    desk.desk_of(request).session[SAID] = [row.payload.get("text", "") for row in answers]
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/activities")


async def photo(request: web.Request) -> web.StreamResponse:
    """A photo of an activity's record, for those who run its community."""
    app = desk.app_of(request)
    async with app.db.reading() as session:
        found = await activities.activity_photo(
            staff_context(request, session),
            int(request.match_info["id"]),
            int(request.match_info["photo"]),
        )
    if found is None or found.id is None:
        return desk.not_yours(request)
    path = photos.kept(app, found)
    if path is None:
        fetched = Path(app.settings.data_dir) / photos.FOLDER / found.channel / f"{found.id}.jpg"
        if await photos.fetch(app, found.channel, found.file_ref, fetched):
            async with app.db.transaction() as session:
                await board.keep_photo(session, found.id, str(fetched))
            path = fetched
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path)


def _write(target: Path, data: bytes) -> None:
    target.write_bytes(data)


async def record(request: web.Request) -> web.StreamResponse:
    """The record written at the desk after the activity, with a photo from the computer
    (kept under the data folder); chat's own use-case and checks."""
    app = desk.app_of(request)
    posted = await request.post()
    text = str(posted.get("record") or "").strip()
    upload = posted.get("photo")
    data, suffix = b"", ""
    if isinstance(upload, web.FileField) and upload.filename:
        suffix = Path(upload.filename).suffix.lower()
        data = upload.file.read(PHOTO_MOST + 1)
    ref = int(request.match_info["id"])
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        if data and (suffix not in PICTURES or len(data) > PHOTO_MOST):
            replies = [Reply("activities.web.photo_bad")]
        else:
            try:
                words = activities.read_text("record", text)
            except activities.FieldError as error:
                replies = [Reply(error.key, error.params)]
            else:
                kept: list[str] = []
                if data and await activities.community_of(ctx, ref) is not None:
                    name = f"activity-{ref}-{uuid.uuid4().hex}{suffix}"
                    path = Path(app.settings.data_dir) / photos.FOLDER / "activities" / name
                    await asyncio.to_thread(atomic, path, lambda target: _write(target, data))
                    kept.append(str(path))
                replies = await activities.record(ctx, ref, words, [], kept)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/activities")
