"""Button tokens: short opaque ids standing for a button's value, bound to one chat.

A chat platform carries a pressed button's data through the user's client, which can
forge it (and Telegram allows 64 bytes of it), so the button carries a random token and
the value stays here, with the chat it was shown in. A forged token, or one pressed in
another chat, stands for nothing.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ButtonToken
from storage.upsert import insert

TOKEN_BYTES = 9  # 12 url-safe characters: unguessable, and far below the 16 the column holds
TOKEN_MAX = 16  # the column's width: a longer token was never minted


def _new(channel: str, chat_id: str, value: str, now: datetime) -> ButtonToken:
    return ButtonToken(
        token=secrets.token_urlsafe(TOKEN_BYTES),
        channel=channel,
        chat_id=chat_id,
        value=value,
        created_at=now,
    )


async def token_for(
    session: AsyncSession, channel: str, chat_id: str, value: str, *, now: datetime
) -> str:
    """The token for `value` shown in `chat_id`; one chat's same value reuses its token."""
    found = (
        await session.exec(
            select(ButtonToken.token)
            .where(
                ButtonToken.channel == channel,
                ButtonToken.chat_id == chat_id,
                ButtonToken.value == value,
            )
            .limit(1)
        )
    ).first()
    if found is not None:
        return found
    while True:
        row = _new(channel, chat_id, value, now)
        # Two senders may race to mint a token for the same value; both tokens work.
        # The conflict is only the (astronomically unlikely) clash of random tokens.
        stmt = (
            insert(session, ButtonToken)
            .values(**row.model_dump())
            .on_conflict_do_nothing(index_elements=["token"])
            .returning(col(ButtonToken.token))
        )
        if (await session.exec(stmt)).scalar_one_or_none() is not None:
            return row.token


async def tokens_for(
    session: AsyncSession, channel: str, chat_id: str, values: list[str], *, now: datetime
) -> dict[str, str]:
    """`token_for` each value at once: one query for those the chat has, one insert for
    the rest (a keyboard of ten buttons costs two statements, not twenty)."""
    found: dict[str, str] = {}
    rows = await session.exec(
        select(ButtonToken.value, ButtonToken.token).where(
            ButtonToken.channel == channel,
            ButtonToken.chat_id == chat_id,
            col(ButtonToken.value).in_(values),
        )
    )
    for value, token in rows.all():
        found.setdefault(value, token)
    missing = list(dict.fromkeys(v for v in values if v not in found))
    if missing:
        new = [_new(channel, chat_id, v, now).model_dump() for v in missing]
        stmt = (
            insert(session, ButtonToken)
            .values(new)
            .on_conflict_do_nothing(index_elements=["token"])
            .returning(col(ButtonToken.value), col(ButtonToken.token))
        )
        for value, token in (await session.exec(stmt)).all():
            found[value] = token
    for value in missing:
        if value not in found:  # its random token clashed with another: mint it alone
            found[value] = await token_for(session, channel, chat_id, value, now=now)
    return found


async def value_of(session: AsyncSession, channel: str, chat_id: str, token: str) -> str | None:
    """The value behind a pressed token; None when unknown or minted for another chat."""
    if not token or len(token) > TOKEN_MAX:
        return None
    row = await session.get(ButtonToken, token)
    if row is None or row.channel != channel or row.chat_id != chat_id:
        return None
    return row.value
