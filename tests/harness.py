"""Drive conversations the way a chat would: a person types, the bot's replies come back.

`Chat` sends neutral messages through the real engine and database, then reads what
the outbox holds for that chat (and marks it delivered), so a test reads like a
conversation: `replies = await resident.say("报修")`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from bot.app import App
from handlers.core.messages import Incoming
from storage.models import Outbox

_ids = itertools.count(1)


@dataclass
class Said:
    """One delivered message: its text, its buttons and the raw payload."""

    chat_id: str
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)

    def button(self, label_part: str) -> str:
        for button in self.buttons:
            if label_part in button["label"]:
                return button["value"]
        raise AssertionError(f"no button {label_part!r} in {self.buttons}")


async def read_outbox(app: App, channel: str, chat_id: str) -> list[Said]:
    """Everything pending for one chat, oldest first, marked as delivered."""
    async with app.db.transaction() as session:
        rows = (
            await session.exec(
                select(Outbox)
                .where(
                    Outbox.channel == channel,
                    Outbox.chat_id == chat_id,
                    col(Outbox.sent_at).is_(None),
                    col(Outbox.not_before) <= app.clock.now(),  # quiet hours hold some back
                )
                .order_by(col(Outbox.id))
            )
        ).all()
        for row in rows:
            row.sent_at = app.clock.now()
        return [
            Said(row.chat_id, row.payload["text"], row.payload.get("buttons", []), row.payload)
            for row in rows
        ]


@dataclass
class Chat:
    """A user in a chat; `say` and `press` return what the bot answered there."""

    app: App
    user_id: str
    chat_id: str | None = None
    channel: str = "console"
    kind: str = "private"
    language: str | None = None
    last: list[Said] = field(default_factory=list)
    keyboard: Said | None = None  # the latest message that had buttons

    @property
    def chat(self) -> str:
        return self.chat_id or self.user_id

    async def send(self, **fields: Any) -> list[Said]:
        msg = Incoming(
            channel=self.channel,
            chat_id=self.chat,
            user_id=self.user_id,
            at=self.app.clock.now(),
            message_id=f"m{next(_ids)}",
            chat_kind=self.kind,
            language=self.language,
            **fields,
        )
        await self.app.engine.handle(msg)
        return await self.inbox()

    async def say(self, text: str) -> list[Said]:
        return await self.send(text=text)

    async def press(self, label_part: str) -> list[Said]:
        """Press the button whose label contains `label_part` on the latest message with buttons."""
        if self.keyboard is None:
            raise AssertionError("no message with buttons to press")
        return await self.send(option=self.keyboard.button(label_part))

    async def photo(self, ref: str) -> list[Said]:
        return await self.send(photo=ref)

    async def contact(self, phone: str) -> list[Said]:
        return await self.send(contact=phone)

    async def inbox(self) -> list[Said]:
        """Messages pushed to this chat by others since the last look."""
        self.last = await read_outbox(self.app, self.channel, self.chat)
        for said in self.last:
            if said.buttons:
                self.keyboard = said
        return self.last


def texts(said: list[Said]) -> str:
    return "\n".join(s.text for s in said)
