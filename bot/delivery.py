"""Outbox delivery, the same for every channel: claim due rows, send each, record the outcome.

A channel only supplies a `Sender` that turns one outbox row into one platform call and
says how it went. Rows are claimed under a lease, so a sender that dies mid-batch gives
its rows back; a failure is retried with a growing delay unless it is permanent.

A chat's messages go in the order claimed: once one is to be tried again, the chat's
later ones in the batch are given back unsent, and the outbox gives them out again only
after it (`storage.outbox.claim`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from handlers.core.clock import Clock
from storage import outbox
from storage.db import Database
from storage.models import Outbox

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # then the row is given up and left for someone to look at
_BACKOFF_BASE = timedelta(seconds=5)
_BACKOFF_MAX = timedelta(minutes=30)
# Recording a delivered message is tried again this often, a second or two apart: if it
# never lands the row comes back when its lease ends and the person gets it twice.
RECORD_TRIES = 20


@dataclass(frozen=True)
class SendResult:
    """How one send went: delivered, try again later, or never."""

    ok: bool = False
    external_message_id: str | None = None
    retry_after: float | None = None  # seconds; set for a temporary failure
    error: str = ""
    rate_limited: bool = False  # the platform said "wait": not a failure, never given up

    @classmethod
    def sent(cls, external_message_id: str | None = None) -> SendResult:
        return cls(ok=True, external_message_id=external_message_id)

    @classmethod
    def retry(cls, error: str, after: float = 0.0) -> SendResult:
        """A temporary failure (rate limit, network); `after` is the platform's own hint."""
        return cls(error=error, retry_after=max(after, 0.0))

    @classmethod
    def wait(cls, error: str, after: float) -> SendResult:
        """Rate limited (Telegram's 429): send again after exactly `after` seconds."""
        return cls(error=error, retry_after=max(after, 0.0), rate_limited=True)

    @classmethod
    def permanent(cls, error: str) -> SendResult:
        """The message can never be delivered (the user blocked the bot, the chat is gone)."""
        return cls(error=error)


class Sender(Protocol):
    """One channel's way of sending an outbox row."""

    channel: str

    async def send(self, row: Outbox) -> SendResult: ...


async def _record_sent(db: Database, row: Outbox, now: datetime, message_id: str | None) -> None:
    """Mark the row sent, trying again while the database is busy or away: the message
    is already with the person, and a row left unmarked would be sent again."""
    assert row.id is not None
    for attempt in range(1, RECORD_TRIES + 1):
        try:
            await outbox.mark_sent(db, row.id, now, message_id)
            return
        except SQLAlchemyError as exc:
            if attempt == RECORD_TRIES:
                raise
            log.warning("outbox row %s sent but not recorded yet (%s); again", row.id, exc)
            await asyncio.sleep(min(attempt, 2))


def backoff(attempts: int) -> timedelta:
    """Delay after `attempts` earlier failures: 5 s, 10 s, 20 s … at most 30 min."""
    return min(_BACKOFF_BASE * 2 ** min(attempts, 16), _BACKOFF_MAX)


async def deliver_pending(
    db: Database,
    sender: Sender,
    clock: Clock,
    chat_ids: Collection[str] | None = None,
    limit: int = 50,
) -> int:
    """Send the due rows of the sender's channel (optionally only some chats); returns how many."""
    rows = await outbox.claim(
        db, sender.channel, clock.now(), limit=limit, chat_ids=chat_ids, in_order=True
    )
    sent = 0
    waiting: set[str] = set()  # chats whose message is to be tried again: the rest wait for it
    given_back: list[int] = []
    for row in rows:
        assert row.id is not None
        if row.chat_id in waiting:
            given_back.append(row.id)
            continue
        try:
            result = await sender.send(row)
        except Exception as exc:  # a sender bug or an unexpected network error: retry
            log.exception("%s: sending outbox row %s failed", sender.channel, row.id)
            result = SendResult.retry(f"{type(exc).__name__}: {exc}")
        now = clock.now()
        if result.ok:
            await _record_sent(db, row, now, result.external_message_id)
            sent += 1
            continue
        if result.rate_limited:
            # Waiting is what the platform asked for: it costs no attempt and loses nothing.
            until = now + timedelta(seconds=result.retry_after or 0)
            await outbox.postpone(db, row.id, until, result.error)
            waiting.add(row.chat_id)
            continue
        if result.retry_after is None or row.attempts + 1 >= MAX_ATTEMPTS:
            log.warning("%s: giving up outbox row %s: %s", sender.channel, row.id, result.error)
            await outbox.mark_failed(db, row.id, now, result.error, retry_at=None)
            continue
        delay = max(timedelta(seconds=result.retry_after), backoff(row.attempts))
        log.info("%s: outbox row %s retried in %s: %s", sender.channel, row.id, delay, result.error)
        await outbox.mark_failed(db, row.id, now, result.error, retry_at=now + delay)
        waiting.add(row.chat_id)
    await outbox.release(db, given_back)
    return sent
