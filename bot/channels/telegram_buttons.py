"""Telegram inline keyboards: buttons carry short opaque tokens, long lists come in pages.

A button's callback data travels through the user's client, which can forge it, and is
limited to 64 bytes; so it holds only a random token, and the value it stands for stays
in our database (`storage.buttons`), bound to the chat it was shown in. A forged token,
or one pressed in another chat, resolves to nothing.

A keyboard of more than `PAGE_SIZE` buttons is shown a page at a time with ‹ › buttons;
their tokens stand for `page:<outbox id>:<n>`, which the adapter hands to `show_page`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from storage import buttons as stored
from storage import outbox

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from storage.models import Outbox

log = logging.getLogger(__name__)

CHANNEL = "telegram"
PAGE_SIZE = 8
SHORT_LABEL = 12  # labels up to this long go two to a row
PAGE_PREFIX = "page:"


async def token_for(session: AsyncSession, chat_id: str, value: str, *, now: datetime) -> str:
    """The token for `value` shown in `chat_id`; one chat's same value reuses its token."""
    return await stored.token_for(session, CHANNEL, chat_id, value, now=now)


async def tokens_for(
    session: AsyncSession, chat_id: str, values: list[str], *, now: datetime
) -> dict[str, str]:
    """`token_for` each value at once (two statements for a whole keyboard)."""
    return await stored.tokens_for(session, CHANNEL, chat_id, values, now=now)


async def resolve(session: AsyncSession, chat_id: str, token: str) -> str | None:
    """The value behind a pressed token; None when unknown or minted for another chat."""
    return await stored.value_of(session, CHANNEL, chat_id, token)


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


async def page(
    session: AsyncSession, row: Outbox, n: int = 0, *, now: datetime
) -> InlineKeyboardMarkup | None:
    """Page `n` (clamped) of an outbox row's buttons as an inline keyboard; None: no buttons."""
    buttons: list[dict[str, str]] = row.payload.get("buttons") or []
    if not buttons:
        return None
    pages = page_count(row.payload)
    n = min(max(n, 0), pages - 1)
    shown = buttons[n * PAGE_SIZE : (n + 1) * PAGE_SIZE]
    tokens = await tokens_for(session, row.chat_id, [str(b["value"]) for b in shown], now=now)
    keys = [
        InlineKeyboardButton(text=str(b["label"]), callback_data=tokens[str(b["value"])])
        for b in shown
    ]
    rows = _rows(keys)
    if pages > 1:
        assert row.id is not None, "a paged keyboard needs its outbox row's id"
        rows.append(await _navigation(session, row.chat_id, row.id, n, pages, now))
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _rows(keys: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    """Short labels two to a row (fewer taps to scroll), long ones each on its own row."""
    if all(len(key.text) <= SHORT_LABEL for key in keys):
        return [keys[i : i + 2] for i in range(0, len(keys), 2)]
    return [[key] for key in keys]


async def _navigation(
    session: AsyncSession, chat_id: str, outbox_id: int, n: int, pages: int, now: datetime
) -> list[InlineKeyboardButton]:
    """‹ and › with the page they lead to, e.g. `‹ 1/3` and `3/3 ›` on page 2."""
    nav = []
    if n > 0:
        data = await token_for(session, chat_id, page_value(outbox_id, n - 1), now=now)
        nav.append(InlineKeyboardButton(text=f"‹ {n}/{pages}", callback_data=data))
    if n < pages - 1:
        data = await token_for(session, chat_id, page_value(outbox_id, n + 1), now=now)
        nav.append(InlineKeyboardButton(text=f"{n + 2}/{pages} ›", callback_data=data))
    return nav


async def show_page(
    bot: Bot,
    session: AsyncSession,
    chat_id: str,
    message_id: int,
    outbox_id: int,
    n: int,
    *,
    now: datetime,
) -> bool:
    """Turn a shown keyboard to page `n`; False when the message no longer shows that row.

    A card edited in place shows its newest outbox row; a ‹ › of an older version must not
    bring the old buttons back.
    """
    latest = await outbox.latest_in_message(session, CHANNEL, chat_id, str(message_id))
    row = await outbox.row(session, outbox_id) if latest == outbox_id else None
    if row is None or row.channel != CHANNEL or row.chat_id != chat_id:
        return False
    markup = await page(session, row, n, now=now)
    try:
        await bot.edit_message_reply_markup(
            chat_id=int(chat_id), message_id=message_id, reply_markup=markup
        )
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:  # pressed the page already shown: fine
            log.info("telegram: page %s of outbox row %s not shown: %s", n, outbox_id, exc)
            return False
    return True
