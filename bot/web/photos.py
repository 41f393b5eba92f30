"""A ticket's photos on its page, served by the photo's row id to whoever may see the ticket
(the ticket page's own check, `board.photo_seen`).

A WeChat photo was downloaded when it arrived: its file reference is our copy. A Telegram
photo is kept by its file id only; its first view fetches it through the running Telegram
channel (`App.photo_sources`) into the data folder (`photos/<channel>/<row id>.jpg`, the
row's `stored_path`), and later views read our copy. Where that channel does not run here
(`frontdesk web` alone), the page says so politely instead of showing a broken image.
Only files inside the data folder are ever served.
"""

from __future__ import annotations

import html
import logging
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from bot.web import desk
from handlers import board

if TYPE_CHECKING:
    from bot.app import App
    from storage.models import Photo

log = logging.getLogger(__name__)

FOLDER = "photos"


def routes() -> list[web.RouteDef]:
    return [web.get(r"/photos/{id:\d+}", photo)]


def kept(app: App, found: Photo) -> Path | None:
    """Our copy of the photo, if we have one in the data folder: the one fetched for the
    pages (`stored_path`), or the channel's own download (WeChat's file reference)."""
    root = Path(app.settings.data_dir).resolve()
    for candidate in (found.stored_path, found.file_ref):
        if not candidate:
            continue
        path = Path(candidate).resolve()
        if path.is_relative_to(root) and path.is_file():
            return path
    return None


def showable(app: App, found: Photo) -> bool:
    """Whether the page can show the photo: we have it, or its channel runs here to fetch it."""
    if kept(app, found) is not None:
        return True
    return bool(found.file_ref) and found.channel in app.photo_sources


async def fetch(app: App, channel: str, file_ref: str, path: Path) -> bool:
    """A photo kept by its channel's file reference, fetched through that channel into
    `path`; False when the channel does not run here or could not give it. (The move-in's
    papers sent in chat are fetched so too.)"""
    source = app.photo_sources.get(channel)
    if source is None or not file_ref:
        return False
    # Fetched beside the target, then renamed: two first views at once never show half.
    part = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.part")
    try:
        await source(file_ref, part)
        os.replace(part, path)
    except Exception as exc:  # the platform refused or is out of reach: say so, not fail
        log.warning("%s could not be fetched from %s: %s", path.name, channel, exc)
        return False
    finally:
        part.unlink(missing_ok=True)
    return True


async def _fetched(app: App, found: Photo) -> Path | None:
    """The photo fetched through its channel and kept for the next view; None when the
    channel does not run here or could not give it."""
    if found.id is None:
        return None
    path = Path(app.settings.data_dir) / FOLDER / found.channel / f"{found.id}.jpg"
    if not await fetch(app, found.channel, found.file_ref, path):
        return None
    async with app.db.transaction() as session:
        if not await board.keep_photo(session, found.id, str(path)):
            path.unlink(missing_ok=True)  # forgotten while it was fetched
            return None
    return path


def _unavailable(request: web.Request) -> web.Response:
    """A placeholder image saying the photo cannot be shown here."""
    app = desk.app_of(request)
    words = html.escape(app.catalogs.text(desk.desk_of(request).locale, "web.photo.unavailable"))
    image = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="160" viewBox="0 0 240 160">'
        '<rect width="240" height="160" fill="#eef1f5"/>'
        '<text x="120" y="85" text-anchor="middle" font-family="sans-serif" font-size="14" '
        f'fill="#555">{words}</text></svg>'
    )
    return web.Response(status=404, text=image, content_type="image/svg+xml")


async def photo(request: web.Request) -> web.StreamResponse:
    """The photo itself (the page shows it small and links here for the whole)."""
    app = desk.app_of(request)
    found = desk.desk_of(request)
    async with app.db.reading() as session:
        seen = await board.photo_seen(session, found.staff, int(request.match_info["id"]))
    if seen is None:
        return desk.not_yours(request)
    path = kept(app, seen) or await _fetched(app, seen)
    if path is None:
        return _unavailable(request)
    return web.FileResponse(path)
