"""The one HTTP listener of a process (FRONTDESK_HTTP_HOST:FRONTDESK_HTTP_PORT).

Every channel that is called over HTTP (the WeChat and WeCom callbacks, Telegram's webhook)
offers `def routes(app) -> list[aiohttp.web.RouteDef]`; they are served together here, so
several channels share one port.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

# WeChat posts small XML documents; nothing legitimate comes near this.
MAX_BODY = 1024 * 1024


def make_web_app(routes: Iterable[web.AbstractRouteDef]) -> web.Application:
    web_app = web.Application(client_max_size=MAX_BODY)
    web_app.add_routes(list(routes))
    return web_app


async def serve_http(app: App, routes: Iterable[web.AbstractRouteDef], stop: asyncio.Event) -> None:
    """Serve the routes until `stop` is set."""
    runner = web.AppRunner(make_web_app(routes), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, app.settings.http_host, app.settings.http_port)
    await site.start()
    log.info("listening on %s:%s", app.settings.http_host, app.settings.http_port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
