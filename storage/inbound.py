"""Inbound updates: each chat update is stored before it is acknowledged.

Chat platforms redeliver when they miss an acknowledgement (WeChat retries three
times, Telegram re-sends after a restart); the unique (channel, external_id)
makes the second delivery a no-op instead of a second ticket.

Also here: the nonces of signed callbacks (a replayed signature is refused), and the
spool that keeps a callback's message on disk when the database cannot take it in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy import exc as sa_exc
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboundUpdate, KeyValue
from storage.upsert import insert


async def accept(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    chat_id: str,
    payload: dict[str, Any],
    now: datetime,
    handled: bool = False,
) -> bool:
    """Store the update; False when (channel, external_id) was seen before.

    `handled`: the caller handles it in the same transaction, so it is stored handled
    (one write instead of an insert and an update).
    """
    stmt = (
        insert(session, InboundUpdate)
        .values(
            channel=channel,
            external_id=external_id,
            chat_id=chat_id,
            payload=payload,
            received_at=now,
            handled_at=now if handled else None,
        )
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        # RETURNING tells "inserted" from "skipped" the same way on both drivers.
        .returning(col(InboundUpdate.id))
    )
    return (await session.exec(stmt)).scalar_one_or_none() is not None


async def mark_handled(
    session: AsyncSession, channel: str, external_id: str, now: datetime
) -> None:
    await session.exec(
        update(InboundUpdate)
        .where(col(InboundUpdate.channel) == channel, col(InboundUpdate.external_id) == external_id)
        .values(handled_at=now)
    )


# ---- callback nonces ------------------------------------------------------------------------
# A WeChat or WeCom callback is signed over its timestamp and nonce; kept in `key_value`
# until the timestamp leaves the accepted window, a nonce that comes back with another
# message is a replay, whichever worker it reaches.

NONCE_PREFIX = "replay:"
# Errors that say the database is away or locked, not that the message is bad.
UNAVAILABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    OSError,
    TimeoutError,
)


async def first_use(
    session: AsyncSession, *, key: str, fingerprint: str, expires_at: datetime
) -> bool:
    """Remember the nonce `key` for the message `fingerprint`; False when it was used by
    another message (a retry of the same message may use it again)."""
    stmt = (
        insert(session, KeyValue)
        .values(key=key, value=fingerprint, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(KeyValue.key))
    )
    if (await session.exec(stmt)).scalar_one_or_none() is not None:
        return True
    kept = await session.exec(select(KeyValue.value).where(KeyValue.key == key))
    return kept.first() == fingerprint


async def first_uses(session: AsyncSession, nonces: Sequence[tuple[str, str, datetime]]) -> bool:
    """`first_use` for several (key, fingerprint, expires_at) in one statement, for
    callbacks handled together; False when any nonce was used by another message."""
    wanted: dict[str, tuple[str, datetime]] = {}
    for key, fingerprint, expires in nonces:
        if wanted.setdefault(key, (fingerprint, expires))[0] != fingerprint:
            return False  # one nonce, two messages
    if not wanted:
        return True
    stmt = (
        insert(session, KeyValue)
        .values([{"key": k, "value": fp, "expires_at": at} for k, (fp, at) in wanted.items()])
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(col(KeyValue.key))
    )
    stored = set((await session.exec(stmt)).scalars().all())
    known = [key for key in wanted if key not in stored]
    if not known:
        return True
    kept = await session.exec(
        select(KeyValue.key, KeyValue.value).where(col(KeyValue.key).in_(known))
    )
    found = dict(kept.all())
    return all(found.get(key) == wanted[key][0] for key in known)


async def purge_nonces(session: AsyncSession, now: datetime) -> int:
    """Forget nonces whose timestamps are out of the window by now; how many."""
    result = await session.exec(
        delete(KeyValue).where(
            # A range on the primary key: an index scan on both databases, unlike LIKE.
            col(KeyValue.key) >= NONCE_PREFIX,
            col(KeyValue.key) < NONCE_PREFIX[:-1] + chr(ord(NONCE_PREFIX[-1]) + 1),
            col(KeyValue.expires_at) < now,
        )
    )
    return int(result.rowcount or 0)


# ---- the spool: accepted while the database cannot take them ----------------------------------


class Spool:
    """Messages accepted while the database was too slow or locked, kept as files.

    A callback must answer within seconds, and answering "received" for a message that
    is stored nowhere would lose it if the process then died; a file written and synced
    here is the store of last resort until the database takes the message. One JSON
    file per message, named after its id, so a message spooled twice is one file.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, message_id: str) -> Path:
        return self.directory / f"{sha256(message_id.encode()).hexdigest()[:40]}.json"

    async def put(self, message_id: str, record: dict[str, Any]) -> None:
        """Keep a message durably (written, synced, renamed into place)."""
        await asyncio.to_thread(self._put, self._path(message_id), record)

    async def drop(self, message_id: str) -> None:
        """Forget a message the database now holds."""
        await asyncio.to_thread(self._path(message_id).unlink, missing_ok=True)

    async def set_aside(self, message_id: str) -> None:
        """Keep a message that cannot be handled out of the way, for someone to look at."""
        path = self._path(message_id)
        with contextlib.suppress(FileNotFoundError):  # handled meanwhile
            await asyncio.to_thread(path.replace, path.with_suffix(".failed"))

    async def waiting(self, older_than: float = 0.0) -> list[dict[str, Any]]:
        """The messages kept for at least `older_than` seconds, oldest first."""
        return await asyncio.to_thread(self._waiting, older_than)

    def _put(self, path: Path, record: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{uuid.uuid4().hex}.partial")  # one per writer
        with partial.open("w", encoding="utf-8") as file:
            json.dump(record, file, ensure_ascii=False)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a power cut
        finally:
            os.close(folder)

    def _waiting(self, older_than: float) -> list[dict[str, Any]]:
        if not self.directory.is_dir():
            return []
        cutoff = time.time() - older_than  # file times are wall-clock times
        found: list[tuple[float, dict[str, Any]]] = []
        for path in self.directory.glob("*.json"):
            try:
                stamp = path.stat().st_mtime
                if stamp > cutoff:
                    continue
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # gone meanwhile (handled), or not one of ours
            if isinstance(record, dict):
                found.append((stamp, record))
        return [record for _, record in sorted(found, key=lambda pair: pair[0])]


def database_unavailable(exc: BaseException) -> bool:
    """Whether a failure means the database could not be reached or was locked (worth
    trying again later), rather than something wrong with the message itself."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, UNAVAILABLE):
            return True
        current = current.__cause__ or current.__context__
    return False
