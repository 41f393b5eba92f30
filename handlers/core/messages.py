"""The neutral message model shared by every channel, the engine and the handlers.

An adapter is two translations around thin I/O: platform update -> `Incoming`,
`Reply` (rendered through the catalogs into an outbox payload) -> platform call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Incoming:
    """One thing a user did: typed text, pressed a button, shared a contact or a photo."""

    channel: str
    chat_id: str
    user_id: str
    at: datetime
    message_id: str = ""
    text: str | None = None
    option: str | None = None
    contact: str | None = None
    photo: str | None = None
    chat_kind: str = "private"  # private or group
    user_name: str = ""
    language: str | None = None  # the platform's hint, e.g. Telegram's language_code

    @property
    def words(self) -> str:
        return (self.text or "").strip()

    @property
    def command(self) -> tuple[str, str] | None:
        """`("start", "CODE")` for `/start CODE`; None when this is not a command."""
        text = self.words
        if not text.startswith("/") or len(text) < 2:
            return None
        head, _, rest = text[1:].partition(" ")
        return head.split("@", 1)[0].lower(), rest.strip()


@dataclass(frozen=True)
class Choice:
    """A button (or numbered line): the value sent back and the catalog key of its label."""

    value: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Money:
    """An amount in yuan, formatted per locale."""

    amount: Decimal


@dataclass(frozen=True)
class Text:
    """A catalog key used as a parameter, translated with the rest of the reply."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


Param = str | int | Decimal | Money | Text | date | datetime | None


@dataclass(frozen=True)
class Reply:
    """Something to say: a catalog key, its parameters and the choices offered.

    `to` names another chat (a staff group, a supervisor); None answers the sender.
    `card` marks a message that is edited in place when sent again with the same card.
    """

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    to: Recipient | None = None
    card: str | None = None
    photo: str | None = None
    document: str | None = None
    request_contact: bool = False
    urgent: bool = False
    not_before: datetime | None = None
    dedupe_key: str | None = None


@dataclass(frozen=True)
class Recipient:
    """Where a push goes: a channel, a chat and the locale to write in."""

    channel: str
    chat_id: str
    locale: str | None = None
