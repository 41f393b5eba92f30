"""The one HTTP listener of a process (FRONTDESK_HTTP_HOST:FRONTDESK_HTTP_PORT).

Every channel that is called over HTTP (the WeChat and WeCom callbacks, Telegram's webhook)
offers `def routes(app) -> list[aiohttp.web.RouteDef]`; they are served together here, so
several channels share one port.

Slow clients cannot hold the listener: a connection must deliver a request's headers
within the header timeout (counted from its opening, or from its previous answer) and
the body within the body timeout, or it is closed (408 for a slow body). At most
`max_connections` are open: a newcomer beyond the cap closes the oldest connection that
has no request being handled (a slow one, or an idle keep-alive one), and is refused at
once with 503 only when every connection is busy with a request. What is cut or refused
is logged at most once a minute per kind, with a count, so a flood cannot flood the log.

Also shared by the WeChat and WeCom callbacks: `ReplayGuard`, which refuses a signed
callback whose timestamp is out of the window and a nonce used again by another message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from aiohttp import web

from handlers.core.clock import Clock
from storage import inbound

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.app import App
    from bot.settings import Settings

log = logging.getLogger(__name__)

# WeChat posts small XML documents; nothing legitimate comes near this.
MAX_BODY = 1024 * 1024
NOTICE_INTERVAL = 60.0  # seconds between two log lines about the same kind of misbehaviour
LINGER = 1.0  # seconds
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\nbusy\n"
)


@dataclass(frozen=True)
class Limits:
    """How long a client may take, and how many may be connected at once."""

    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_connections: int = 256

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            header_timeout=settings.http_header_timeout,
            body_timeout=settings.http_body_timeout,
            max_connections=settings.http_max_connections,
        )


class Notices:
    """Warnings about clients, at most one line per kind per interval, with a count."""

    def __init__(self, logger: logging.Logger, interval: float = NOTICE_INTERVAL) -> None:
        self.logger = logger
        self.interval = interval
        self._kinds: dict[str, tuple[int, float]] = {}  # kind -> (not yet logged, last logged)

    def note(self, kind: str, message: str, *args: Any) -> None:
        now = asyncio.get_running_loop().time()
        count, last = self._kinds.get(kind, (0, float("-inf")))
        count += 1
        if now - last < self.interval:
            self._kinds[kind] = (count, last)
            return
        self._kinds[kind] = (0, now)
        self.logger.warning(
            message + " (%d in the last %.0f s)", *args, count, min(now - last, self.interval)
        )


# ---- connections ------------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One client connection: aiohttp's handler behind the gate's timer and bookkeeping."""

    def __init__(self, gate: Gate, make_handler: Callable[[], asyncio.Protocol]) -> None:
        self.gate = gate
        self.make_handler = make_handler
        self.handler: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.since = self.loop.time()  # when it last became idle, or began sending a body
        self.heard = False  # bytes arrived since it became idle: a request on its way
        self.busy = 0  # requests received whole and being handled
        self.reading = 0  # requests whose body is being read
        self.timer: asyncio.TimerHandle | None = None

    # asyncio's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.gate.admit(self):
            transport.write(BUSY)
            transport.close()
            return
        self.handler = self.make_handler()
        self.handler.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.handler is not None:
            if not (self.busy or self.reading):
                self.heard = True
            self.handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self.handler.eof_received() if self.handler is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.gate.forget(self)
        if self.handler is not None:
            self.handler.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.handler is not None:
            self.handler.pause_writing()

    def resume_writing(self) -> None:
        if self.handler is not None:
            self.handler.resume_writing()

    # the middleware's side

    def body_begins(self) -> None:
        self._disarm()  # the body timeout takes over
        self.reading += 1
        self.since = self.loop.time()

    def handling_begins(self) -> None:
        self.reading -= 1
        self.busy += 1

    def request_ends(self, handled: bool) -> None:
        if handled:
            self.busy -= 1
        else:
            self.reading -= 1
        if not (self.busy or self.reading):
            self.since, self.heard = self.loop.time(), False
            self._arm()

    @property
    def evictable(self) -> bool:
        return self.handler is not None and not self.busy

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _arm(self) -> None:
        self._disarm()
        self.timer = self.loop.call_at(self.since + self.gate.limits.header_timeout, self._expire)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        self.timer = None
        if self.busy or self.reading:
            return
        if self.heard:  # an idle keep-alive connection closes quietly; a slow one is noted
            self.gate.notices.note(
                "slow headers",
                "http: closed connections whose request headers took over %.0f s",
                self.gate.limits.header_timeout,
            )
        self.close()


class Gate:
    """The listener's connections: the cap, and which one gives way to a newcomer."""

    def __init__(self, limits: Limits, notices: Notices | None = None) -> None:
        self.limits = limits
        self.notices = notices or Notices(log)
        self._open: dict[asyncio.BaseTransport, _Connection] = {}

    def protocol_factory(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        return lambda: _Connection(self, server)

    def admit(self, connection: _Connection) -> bool:
        """Make room for a new connection, or refuse it when every open one is busy."""
        if len(self._open) >= self.limits.max_connections:
            idle = [c for c in self._open.values() if c.evictable]
            if not idle:
                self.notices.note(
                    "full",
                    "http: refused connections, all %d busy with requests",
                    self.limits.max_connections,
                )
                return False
            oldest = min(idle, key=lambda c: c.since)
            self.notices.note(
                "evicted",
                "http: %d connections open; closed the longest idle or slow ones for newcomers",
                self.limits.max_connections,
            )
            self.forget(oldest)
            oldest.close()
        assert connection.transport is not None
        self._open[connection.transport] = connection
        return True

    def forget(self, connection: _Connection) -> None:
        if connection.transport is not None and self._open.get(connection.transport) is connection:
            del self._open[connection.transport]

    def of(self, request: web.BaseRequest) -> _Connection | None:
        return self._open.get(request.transport) if request.transport is not None else None

    @property
    def count(self) -> int:
        return len(self._open)


def _middleware(limits: Limits, gate: Gate | None, notices: Notices) -> Any:
    def too_slow() -> web.Response:
        notices.note(
            "slow body",
            "http: answered 408 to request bodies that took over %.0f s",
            limits.body_timeout,
        )
        response = web.Response(status=408, text="request body too slow\n")
        response.force_close()
        return response

    @web.middleware
    async def limited(
        request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        """Read the whole body within the body timeout before any handler sees the request.

        A body declared too large is not read here: the handler refuses it (after its
        own checks: a forged signature is told 403, not 413) within the body timeout.
        """
        connection = gate.of(request) if gate is not None else None
        handled = False
        if connection is not None:
            connection.body_begins()
        try:
            oversized = (request.content_length or 0) > request.client_max_size
            if request.body_exists and not oversized:
                try:
                    async with asyncio.timeout(limits.body_timeout):
                        if request.content_type == "multipart/form-data":
                            # aiohttp parses a multipart form (a file uploaded on the desk's
                            # pages) only from the stream, never from the bytes `read` keeps:
                            # parsed here, and kept by the request for the handlers.
                            await request.post()
                        else:
                            await request.read()  # kept by the request: handlers read it again
                except TimeoutError:
                    return too_slow()
            if connection is not None:
                connection.handling_begins()
                handled = True
            if not oversized:
                return await handler(request)  # type: ignore[no-any-return]
            try:
                async with asyncio.timeout(limits.body_timeout):
                    return await handler(request)  # type: ignore[no-any-return]
            except TimeoutError:
                return too_slow()
        finally:
            if connection is not None:
                connection.request_ends(handled)

    return limited


def make_web_app(
    routes: Iterable[web.AbstractRouteDef],
    limits: Limits | None = None,
    gate: Gate | None = None,
    mounted: Mapping[str, web.Application] | None = None,
) -> web.Application:
    """The listener's application: the routes, and `mounted` applications with their own
    middlewares under a prefix each (the desk's web workspace under `/desk`)."""
    limits = limits or Limits()
    notices = gate.notices if gate is not None else Notices(log)
    web_app = web.Application(
        client_max_size=MAX_BODY, middlewares=[_middleware(limits, gate, notices)]
    )
    web_app.add_routes(list(routes))
    for prefix, sub_app in (mounted or {}).items():
        web_app.add_subapp(prefix, sub_app)
    return web_app


class _GatedSite(web.BaseSite):
    """A TCP site whose connections pass through the gate."""

    __slots__ = ("_bound", "_gate", "_host", "_port")

    def __init__(self, runner: web.AppRunner, gate: Gate, host: str, port: int) -> None:
        super().__init__(runner)
        self._gate, self._host, self._port = gate, host, port
        self._bound = port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._bound}"

    @property
    def port(self) -> int:
        return self._bound

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._gate.protocol_factory(server), self._host, self._port, backlog=self._backlog
        )
        sockets = self._server.sockets
        if sockets:
            self._bound = sockets[0].getsockname()[1]


@dataclass
class Listener:
    """A listener that is running: `port` is the one bound (useful with port 0)."""

    runner: web.AppRunner
    gate: Gate
    port: int

    async def close(self) -> None:
        await self.runner.cleanup()


def within_file_limit(limits: Limits) -> Limits:
    """The limits with the connection cap below the process's open-file limit: at that
    limit nothing can be accepted or opened at all, `/health` and the database included."""
    try:
        import resource
    except ImportError:  # not a Unix system: no such limit to read
        return limits
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limits
    room = max(soft // 2, 16)  # the other half for the database, files and API calls
    if limits.max_connections <= room:
        return limits
    log.warning(
        "http: at most %d connections, not %d: the open-file limit is %d (ulimit -n)",
        room,
        limits.max_connections,
        soft,
    )
    return replace(limits, max_connections=room)


async def start_listener(
    routes: Iterable[web.AbstractRouteDef],
    host: str,
    port: int,
    limits: Limits,
    mounted: Mapping[str, web.Application] | None = None,
) -> Listener:
    """Serve the routes (and mounted applications) on host:port behind the limits."""
    limits = within_file_limit(limits)
    gate = Gate(limits)
    runner = web.AppRunner(
        make_web_app(routes, limits, gate, mounted),
        access_log=None,
        # aiohttp's own idle timer is the backstop of ours (which logs slow clients).
        keepalive_timeout=limits.header_timeout * 2,
        # After a 408 or 413 the rest of a body is read and dropped this long at most,
        # so the client reads the answer before the connection closes (not 10 s).
        lingering_time=LINGER,
    )
    await runner.setup()
    site = _GatedSite(runner, gate, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return Listener(runner, gate, site.port)


async def serve_http(
    app: App,
    routes: Iterable[web.AbstractRouteDef],
    stop: asyncio.Event,
    mounted: Mapping[str, web.Application] | None = None,
) -> None:
    """Serve the routes (and mounted applications) until `stop` is set."""
    settings = app.settings
    listener = await start_listener(
        routes, settings.http_host, settings.http_port, Limits.of(settings), mounted
    )
    log.info(
        "listening on %s:%s (at most %d connections)",
        settings.http_host,
        listener.port,
        listener.gate.limits.max_connections,
    )
    try:
        await stop.wait()
    finally:
        await listener.close()


# ---- signed callbacks: freshness and nonces ---------------------------------------------------


class Stale(Exception):
    """A callback whose timestamp is missing or outside the accepted window."""


class Replayed(Exception):
    """A callback whose timestamp and nonce already came with another message."""


@dataclass(frozen=True)
class Stamp:
    """A callback's timestamp and nonce (as a key), until when they are remembered, and
    the message they came with."""

    key: str
    expires_at: datetime
    fingerprint: str = ""

    def of(self, sender: str, message_id: str) -> Stamp:
        """The stamp with the message it signs: a retry of that message may use it again."""
        fingerprint = sha256(f"{sender}\n{message_id}".encode()).hexdigest()
        return replace(self, fingerprint=fingerprint)

    def record(self) -> dict[str, str]:
        return {"key": self.key, "expires_at": self.expires_at.isoformat(), "fp": self.fingerprint}

    @classmethod
    def from_record(cls, record: dict[str, str]) -> Stamp:
        return cls(record["key"], datetime.fromisoformat(record["expires_at"]), record["fp"])


class ReplayGuard:
    """Refuses old signatures and a signature used again for another message.

    WeChat (plaintext mode) signs only the token, timestamp and nonce, so a request once
    seen could otherwise be sent again, forever, with any body. The timestamp must be
    within `window` of this host's clock (WeChat's clock is the real time, so this is the
    real time too, not a test's or a demo's clock), and a nonce is remembered until its
    timestamp leaves the window: here, for a fast answer, and in the database, where every
    worker sees it. WeChat's retries of one message (the same request again, or a new
    timestamp and nonce) are no replay: a nonce may come back with the same message.
    """

    MEMORY = 100_000  # nonces remembered in this process

    def __init__(self, channel: str, window: timedelta, clock: Clock) -> None:
        self.channel = channel
        self.window = window
        self.clock = clock
        self._seen: dict[str, tuple[str, datetime]] = {}

    def stamp(self, timestamp: str, nonce: str) -> Stamp:
        """The request's stamp; `Stale` when its time is not now (give or take the window)."""
        if not timestamp.isdigit() or len(timestamp) > 12 or not nonce or len(nonce) > 100:
            raise Stale("no valid timestamp and nonce")
        try:
            sent = datetime.fromtimestamp(int(timestamp), UTC)
        except (ValueError, OverflowError, OSError):  # beyond the calendar
            raise Stale(f"timestamp {timestamp} is not a time") from None
        if abs(self.clock.now() - sent) > self.window:
            raise Stale(f"timestamp {timestamp} is outside the accepted window")
        digest = sha256(f"{timestamp}\n{nonce}".encode()).hexdigest()[:40]
        return Stamp(f"{inbound.NONCE_PREFIX}{self.channel}:{digest}", sent + self.window)

    def check_here(self, stamp: Stamp) -> None:
        """`Replayed` when this process saw the nonce with another message."""
        now = self.clock.now()
        seen = self._seen.get(stamp.key)
        if seen is not None and seen[1] >= now:
            if seen[0] != stamp.fingerprint:
                raise Replayed("nonce used before by another message")
            return
        if len(self._seen) >= self.MEMORY:
            self._forget_old(now)
        self._seen[stamp.key] = (stamp.fingerprint, stamp.expires_at)

    async def check_stored(self, session: AsyncSession, stamp: Stamp) -> None:
        """`Replayed` when any worker stored the nonce with another message."""
        fresh = await inbound.first_use(
            session, key=stamp.key, fingerprint=stamp.fingerprint, expires_at=stamp.expires_at
        )
        if not fresh:
            raise Replayed("nonce used before by another message")

    async def purge(self, app: App) -> int:
        """Forget the stored nonces that can no longer be replayed."""
        async with app.db.transaction() as session:
            return await inbound.purge_nonces(session, self.clock.now())

    def _forget_old(self, now: datetime) -> None:
        self._seen = {k: v for k, v in self._seen.items() if v[1] >= now}
        while len(self._seen) >= self.MEMORY:  # a flood of fresh ones: drop the oldest half
            for key in list(self._seen)[: self.MEMORY // 2]:
                del self._seen[key]
