"""Identity binding rules: invitation codes (shape, lifetime) and how relations are named."""

from __future__ import annotations

import secrets
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
