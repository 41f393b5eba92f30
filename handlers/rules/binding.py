"""Identity binding rules: invitation codes (shape, lifetime) and how relations are named."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# No 0/O or 1/I: a code copied from paper by hand should not be mistyped.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE_LIFETIME = timedelta(days=30)
ROLES = ("owner", "member", "tenant", "delegate")

# How a relation to a unit is written in a roster, a command or a conversation.
ROLE_WORDS = {
    "owner": "owner",
    "业主": "owner",
    "产权人": "owner",
    "member": "member",
    "household member": "member",
    "家庭成员": "member",
    "家属": "member",
    "成员": "member",
    "tenant": "tenant",
    "租户": "tenant",
    "承租人": "tenant",
    "delegate": "delegate",
    "受托人": "delegate",
    "代理人": "delegate",
}


def parse_role(word: str) -> str | None:
    """`业主` or `Owner` -> `owner`; None for a word that names no relation."""
    return ROLE_WORDS.get(" ".join(word.strip().lower().split()))


def new_code() -> str:
    """A fresh random code from the unambiguous alphabet."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


# Codes are kept only as a slow hash: a copy of the store (or of the audit log) holds no
# code anyone could send. The key is fixed so a typed code can be looked up by its hash;
# the slowness is what protects codes of 40 bits against a guess at every hash.
_KEY_SALT = b"frontdesk invitation code"
_KEY_ROUNDS = 20_000


def code_key(code: str) -> str:
    """What the store keeps of a (normalised) code: 16 hex digits of PBKDF2-SHA256."""
    digest = hashlib.pbkdf2_hmac("sha256", code.encode(), _KEY_SALT, _KEY_ROUNDS)
    return digest.hex()[:16]


@dataclass(frozen=True)
class CodeThrottle:
    """How many wrong codes are taken before a chat, or everyone, must wait."""

    per_chat: int = 5
    per_chat_window: timedelta = timedelta(minutes=15)
    overall: int = 30
    overall_window: timedelta = timedelta(minutes=10)


def recent(times: Sequence[datetime], now: datetime, window: timedelta) -> list[datetime]:
    return [t for t in times if now - t < window]


def throttled(
    chat_tries: Sequence[datetime],
    all_tries: Sequence[datetime],
    now: datetime,
    policy: CodeThrottle,
) -> str | None:
    """`chat` when this chat has guessed too often lately, `everyone` when codes are being
    guessed in a burst from many chats, else None."""
    if len(recent(chat_tries, now, policy.per_chat_window)) >= policy.per_chat:
        return "chat"
    if len(recent(all_tries, now, policy.overall_window)) >= policy.overall:
        return "everyone"
    return None


def normalise_code(text: str) -> str | None:
    """The code a resident typed (any case, spaces or dashes between groups), or None."""
    code = "".join(text.split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def code_refusal(
    used_at: datetime | None, expires_at: datetime | None, now: datetime
) -> str | None:
    """Why a known code cannot be used now (`used`, `expired`), or None when it can."""
    if used_at is not None:
        return "used"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return None
