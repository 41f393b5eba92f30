"""Telegram inline keyboards: buttons carry short opaque tokens, long lists come in pages.

A button's callback data travels through the user's client, which can forge it, and is
limited to 64 bytes; so it holds only a random token, and the value it stands for stays
in our database (`ButtonToken`), bound to the chat it was shown in. A forged token, or
one pressed in another chat, resolves to nothing.

A keyboard of more than `PAGE_SIZE` buttons is shown a page at a time with ‹ › buttons;
their tokens stand for `page:<outbox id>:<n>`, which the adapter hands to `show_page`.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ButtonToken, Outbox
from storage.upsert import insert

log = logging.getLogger(__name__)

CHANNEL = "telegram"
PAGE_SIZE = 8
TOKEN_BYTES = 9  # 12 url-safe characters: unguessable, and far below the 16 the column holds
SHORT_LABEL = 12  # labels up to this long go two to a row
PAGE_PREFIX = "page:"


async def token_for(session: AsyncSession, chat_id: str, value: str) -> str:
    """The token for `value` shown in `chat_id`; one chat's same value reuses its token."""
    found = (
        await session.exec(
            select(ButtonToken.token)
            .where(
                ButtonToken.channel == CHANNEL,
                ButtonToken.chat_id == chat_id,
                ButtonToken.value == value,
            )
            .limit(1)
        )
    ).first()
    if found is not None:
        return found
    while True:
        row = ButtonToken(
            token=secrets.token_urlsafe(TOKEN_BYTES), channel=CHANNEL, chat_id=chat_id, value=value
        )
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


async def tokens_for(session: AsyncSession, chat_id: str, values: list[str]) -> dict[str, str]:
    """`token_for` each value at once: one query for those the chat has, one insert for
    the rest (a keyboard of ten buttons costs two statements, not twenty)."""
    found: dict[str, str] = {}
    rows = await session.exec(
        select(ButtonToken.value, ButtonToken.token).where(
            ButtonToken.channel == CHANNEL,
            ButtonToken.chat_id == chat_id,
            col(ButtonToken.value).in_(values),
        )
    )
    for value, token in rows.all():
        found.setdefault(value, token)
    missing = list(dict.fromkeys(v for v in values if v not in found))
    if missing:
        new = [
            ButtonToken(
                token=secrets.token_urlsafe(TOKEN_BYTES), channel=CHANNEL, chat_id=chat_id, value=v
            ).model_dump()
            for v in missing
        ]
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
            found[value] = await token_for(session, chat_id, value)
    return found


async def resolve(session: AsyncSession, chat_id: str, token: str) -> str | None:
    """The value behind a pressed token; None when unknown or minted for another chat."""
    if not token or len(token) > 16:
        return None
    row = await session.get(ButtonToken, token)
    if row is None or row.channel != CHANNEL or row.chat_id != chat_id:
        return None
    return row.value


def page_value(outbox_id: int, n: int) -> str:
    return f"{PAGE_PREFIX}{outbox_id}:{n}"


def parse_page(value: str) -> tuple[int, int] | None:
    """(outbox id, page) of a `page:<outbox id>:<n>` value; None for any other value."""
    if not value.startswith(PAGE_PREFIX):
        return None
    outbox_id, _, n = value[len(PAGE_PREFIX) :].partition(":")
    if not (outbox_id.isdigit() and n.isdigit()):
        return None
    return int(outbox_id), int(n)


def page_count(payload: dict[str, Any]) -> int:
    buttons = payload.get("buttons") or []
    return max(1, -(-len(buttons) // PAGE_SIZE))


async def page(session: AsyncSession, row: Outbox, n: int = 0) -> InlineKeyboardMarkup | None:
    """Page `n` (clamped) of an outbox row's buttons as an inline keyboard; None: no buttons."""
    buttons: list[dict[str, str]] = row.payload.get("buttons") or []
    if not buttons:
        return None
    pages = page_count(row.payload)
    n = min(max(n, 0), pages - 1)
    shown = buttons[n * PAGE_SIZE : (n + 1) * PAGE_SIZE]
    tokens = await tokens_for(session, row.chat_id, [str(b["value"]) for b in shown])
    keys = [
        InlineKeyboardButton(text=str(b["label"]), callback_data=tokens[str(b["value"])])
        for b in shown
    ]
    rows = _rows(keys)
    if pages > 1:
        assert row.id is not None, "a paged keyboard needs its outbox row's id"
        rows.append(await _navigation(session, row.chat_id, row.id, n, pages))
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _rows(keys: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    """Short labels two to a row (fewer taps to scroll), long ones each on its own row."""
    if all(len(key.text) <= SHORT_LABEL for key in keys):
        return [keys[i : i + 2] for i in range(0, len(keys), 2)]
    return [[key] for key in keys]


async def _navigation(
    session: AsyncSession, chat_id: str, outbox_id: int, n: int, pages: int
) -> list[InlineKeyboardButton]:
    """‹ and › with the page they lead to, e.g. `‹ 1/3` and `3/3 ›` on page 2."""
    nav = []
    if n > 0:
        data = await token_for(session, chat_id, page_value(outbox_id, n - 1))
        nav.append(InlineKeyboardButton(text=f"‹ {n}/{pages}", callback_data=data))
    if n < pages - 1:
        data = await token_for(session, chat_id, page_value(outbox_id, n + 1))
        nav.append(InlineKeyboardButton(text=f"{n + 2}/{pages} ›", callback_data=data))
    return nav


async def show_page(
    bot: Bot, session: AsyncSession, chat_id: str, message_id: int, outbox_id: int, n: int
) -> bool:
    """Turn a shown keyboard to page `n`; False when the message no longer shows that row.

    A card edited in place shows its newest outbox row; a ‹ › of an older version must not
    bring the old buttons back.
    """
    row = await session.get(Outbox, outbox_id)
    if row is None or row.channel != CHANNEL or row.chat_id != chat_id:
        return False
    latest = (
        await session.exec(
            select(col(Outbox.id))
            .where(
                Outbox.channel == CHANNEL,
                Outbox.chat_id == chat_id,
                Outbox.external_message_id == str(message_id),
            )
            .order_by(col(Outbox.sent_at).desc(), col(Outbox.id).desc())
            .limit(1)
        )
    ).first()
    if latest != outbox_id:
        return False
    markup = await page(session, row, n)
    try:
        await bot.edit_message_reply_markup(
            chat_id=int(chat_id), message_id=message_id, reply_markup=markup
        )
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:  # pressed the page already shown: fine
            log.info("telegram: page %s of outbox row %s not shown: %s", n, outbox_id, exc)
            return False
    return True
