"""The service desk picks up what a channel could not deliver: a phone task for a resident
WeChat can no longer reach (outside the 48-hour window, no template for the message).

The resident's community's desk groups get the message to read out, once per message
and group; non-urgent like any push, so it waits out the quiet hours. Audited.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.messages import Reply
from handlers.directory import bound_units, department_chats
from storage import audit
from storage.models import ChatIdentity, Community, Department, Outbox, Person

log = logging.getLogger(__name__)

TEXT_MAX = 300  # characters of the message read out to the resident


async def community_of(session: AsyncSession, person: Person | None) -> int | None:
    """The resident's community (first bound unit), else the first community."""
    if person is not None:
        units = await bound_units(session, person.id)
        if units:
            return units[0][0].community_id
    first = (await session.exec(select(Community).order_by(col(Community.id)))).first()
    return first.id if first is not None else None


async def phone_the_unreachable(
    session: AsyncSession,
    row: Outbox,
    identity: ChatIdentity | None,
    person: Person | None,
    *,
    channel: str,
    now: datetime,
) -> list[Reply]:
    """Ask the resident's community's service desk to phone with the message `channel`
    could not deliver (`row`); recorded in the audit log. Returns the desk's replies."""
    name = person.name if person else (identity.display_name if identity else "") or row.chat_id
    text = str(row.payload.get("text", ""))
    community_id = await community_of(session, person)
    chats = (
        []
        if community_id is None
        else await department_chats(session, community_id, Department.service)
    )
    params = {"name": name, "phone": person.phone if person else None, "text": text[:TEXT_MAX]}
    replies = [
        Reply(
            "wechat.unreachable",
            params,
            to=chat,
            dedupe_key=f"{channel}:unreachable:{row.id}:{chat.channel}:{chat.chat_id}"[:120],
        )
        for chat in chats
    ]
    await audit.record(
        session,
        actor=channel,
        action=f"{channel}_unreachable",
        target=row.chat_id,
        detail={
            "outbox": row.id,
            "person": person.id if person else None,
            "key": row.payload.get("key"),
            "desk_chats": len(chats),
        },
        now=now,
    )
    if not chats:
        log.warning("%s: %s unreachable and no service desk group to tell", channel, row.chat_id)
    return replies
