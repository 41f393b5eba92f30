"""The HTTP listener stays up: slow clients are cut, a full house refuses at once, and
`/health` answers in time even with the database locked.

The listener is the real one (`bot.http.start_listener` on a free loopback port) with
small limits configured for the test; the slow clients are raw sockets that trickle
their headers or their body a byte at a time.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from bot import ops
from bot.http import Limits, Listener, start_listener
from storage.models import InboundUpdate
from tests.test_wechat import (
    TOKEN,
    OpenWeChat,
    Resident,
    emulator,
    locked,
    open_wechat,
)
from tests.wechat_emulator import mp_reply, mp_request

__all__ = ["emulator", "open_wechat"]  # fixtures, used below by name

LIMITS = Limits(header_timeout=1.0, body_timeout=1.0, max_connections=8)
SLOW = 24  # slow clients: three times the cap


@asynccontextmanager
async def listening(routes: list[web.AbstractRouteDef], limits: Limits) -> AsyncIterator[Listener]:
    listener = await start_listener(routes, "127.0.0.1", 0, limits)
    try:
        yield listener
    finally:
        await listener.close()


async def trickle(port: int, head: bytes, stop: asyncio.Event) -> float | None:
    """Send `head`, then one byte every 0.1 s, until the server closes the connection;
    how long that took (None: still open when `stop` was set)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        while not stop.is_set():
            try:
                writer.write(b"X")
                await writer.drain()
                if await asyncio.wait_for(reader.read(100), 0.1) == b"":
                    return loop.time() - started
            except TimeoutError:
                continue
            except ConnectionError:
                return loop.time() - started
        return None
    finally:
        writer.close()


async def timed(work: Awaitable[tuple[int, str]]) -> tuple[int, str, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, body = await work
    return status, body, loop.time() - started


def getter(port: int, path: str) -> Callable[[], Awaitable[tuple[int, str]]]:
    async def get() -> tuple[int, str]:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                return response.status, await response.text()

    return get


async def test_slow_clients_are_cut_and_residents_and_health_checks_still_answered(
    open_wechat: OpenWeChat, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger="bot.http")
    wx = await open_wechat()
    routes = [*wx.callback.routes(), *ops.routes(wx.app)]
    async with listening(routes, LIMITS) as listener:
        stop = asyncio.Event()
        head = b"POST /wechat HTTP/1.1\r\nHost: frontdesk\r\nX-Slow: "
        slow = [asyncio.create_task(trickle(listener.port, head, stop)) for _ in range(SLOW)]
        await asyncio.sleep(0.3)  # every slow client connected, the cap long exceeded

        async def resident() -> tuple[int, str]:
            xml = Resident(wx).xml("text", Content="/repair", MsgId=31_000_001)
            request = mp_request(xml, TOKEN)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                url = f"http://127.0.0.1:{listener.port}/wechat"
                async with http.post(url, params=request.params, data=request.body) as response:
                    return response.status, await response.text()

        health = await timed(getter(listener.port, "/health")())
        message = await timed(resident())
        stop_after = asyncio.get_running_loop().call_later(5.0, stop.set)  # a bound, not a wait
        cut = await asyncio.gather(*slow)
        stop_after.cancel()
    assert health[:2] == (200, '{"status": "ok", "database": "ok"}') and health[2] < 2.0
    assert message[0] == 200 and message[2] < 2.0
    assert mp_reply(message[1])["Content"].startswith("请问需要维修的是哪里？")
    # Every slow client was closed, none later than the header timeout allows.
    assert None not in cut and max(c for c in cut if c is not None) < LIMITS.header_timeout + 1.0
    # A line per kind of event, not one per connection.
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.http"]
    assert 1 <= len(lines) <= 3, lines
    assert any("headers took over 1 s" in line for line in lines), lines


async def test_a_slow_body_is_answered_408_after_the_body_timeout(open_wechat: OpenWeChat):
    wx = await open_wechat()
    async with listening(wx.callback.routes(), LIMITS) as listener:
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        started = loop.time()
        writer.write(
            b"POST /wechat?signature=x HTTP/1.1\r\nHost: frontdesk\r\n"
            b"Content-Length: 1000\r\n\r\n<xml>"
        )
        try:
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            answered = loop.time() - started
            await asyncio.wait_for(reader.read(), 5)  # and then the connection is closed
            closed = loop.time() - started
        finally:
            writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert LIMITS.body_timeout <= answered < LIMITS.body_timeout + 1.0
    assert closed < LIMITS.body_timeout + 2.0
    assert await wx.count(InboundUpdate) == 0


async def test_when_every_connection_is_busy_a_newcomer_is_refused_at_once():
    release = asyncio.Event()

    async def busy(_: web.Request) -> web.Response:
        await release.wait()  # a request being handled, for as long as the test says
        return web.Response(text="done")

    async def fine(_: web.Request) -> web.Response:
        return web.Response(text="fine")

    limits = Limits(header_timeout=1.0, body_timeout=1.0, max_connections=2)
    async with listening([web.get("/busy", busy), web.get("/fine", fine)], limits) as listener:
        held = [asyncio.create_task(getter(listener.port, "/busy")()) for _ in range(2)]
        await asyncio.sleep(0.3)
        refused = await timed(getter(listener.port, "/fine")())
        release.set()
        assert [await h for h in held] == [(200, "done")] * 2
        served = await getter(listener.port, "/fine")()
    assert refused[:2] == (503, "busy\n") and refused[2] < 0.5
    assert served == (200, "fine")


async def test_health_and_metrics_report_a_locked_database_within_five_seconds(
    open_wechat: OpenWeChat,
):
    wx = await open_wechat()
    async with listening(ops.routes(wx.app), Limits()) as listener:
        health, metrics = getter(listener.port, "/health"), getter(listener.port, "/metrics")
        async with locked(wx.app):
            answers = asyncio.ensure_future(
                asyncio.gather(timed(health()), timed(health()), timed(metrics()))
            )
            await asyncio.wait({answers}, timeout=8)  # the lock goes after 8 s at the latest
        down = await answers
        assert [status for status, _, _ in down] == [503, 503, 503]
        assert '"database": "down"' in down[0][1]
        assert max(seconds for _, _, seconds in down) < 5.0
        for _ in range(50):  # the lock is gone: up again at once, or within a moment
            status, _ = await health()
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert status == 200


def test_the_cap_stays_below_the_open_file_limit():
    """At the open-file limit nothing can be accepted or opened, `/health` included."""
    code = (
        "from bot.http import Limits, within_file_limit;"
        "print(within_file_limit(Limits(max_connections=256)).max_connections)"
    )

    def low_limit() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))

    done = subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=low_limit,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "100"
