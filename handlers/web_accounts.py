"""The desk's web workspace: passwords and signing in.

A login is a staff member's user id on the `web` channel; their `web` staff rows (one per
community, as on any channel) are what they may see and do. A password is kept as an
argon2id hash. Wrong passwords in a row make signing in wait (`rules/signin.py`); every
attempt, right or wrong, is audited, without the password.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.rules.signin import SignInPolicy, locked_for, password_problem
from storage import audit
from storage.db import Database
from storage.models import StaffMember, WebAccount

CHANNEL = "web"
HASHER = PasswordHasher()
# Checked when the login is unknown, so that an unknown login takes as long as a known one.
_NOBODY = HASHER.hash("not a password of anyone's")


class PasswordRefused(ValueError):
    """A new password that will not do; the message says why."""


@dataclass(frozen=True)
class SignIn:
    ok: bool
    staff: list[StaffMember] = field(default_factory=list)
    locked_until: datetime | None = None  # refused without trying: too many wrong ones


async def staff_of(session: AsyncSession, login: str) -> list[StaffMember]:
    """The login's active staff rows, one per community (None: company-wide)."""
    found = await session.exec(
        select(StaffMember).where(
            StaffMember.channel == CHANNEL,
            StaffMember.external_user_id == login,
            col(StaffMember.active).is_(True),
        )
    )
    return list(found.all())


async def set_password(session: AsyncSession, login: str, password: str, now: datetime) -> None:
    """Set a staff member's web password (they must be staff on the `web` channel)."""
    if not await staff_of(session, login):
        raise PasswordRefused(
            f"no active staff member {login!r} on the web channel "
            "(frontdesk staff add --channel web --user LOGIN …)"
        )
    problem = password_problem(password)
    if problem is not None:
        raise PasswordRefused(problem)
    hashed = await asyncio.to_thread(HASHER.hash, password)
    account = await session.get(WebAccount, login)
    if account is None:
        account = WebAccount(login=login, password_hash=hashed, password_set_at=now)
        session.add(account)
    account.password_hash, account.password_set_at = hashed, now
    account.failures, account.locked_until = 0, None
    await audit.record(session, actor="cli", action="web_password_set", target=login, now=now)


def _verify(hashed: str, password: str) -> bool:
    try:
        return HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def sign_in(
    db: Database, login: str, password: str, now: datetime, policy: SignInPolicy = SignInPolicy()
) -> SignIn:
    """Check a login and password. The hash is checked outside any transaction (it takes
    tens of milliseconds on purpose), then the outcome is recorded."""
    async with db.transaction() as session:
        account = await session.get(WebAccount, login)
        staff = await staff_of(session, login) if account is not None else []
        hashed = account.password_hash if account is not None else _NOBODY
        locked = account.locked_until if account is not None else None
    if locked is not None and locked > now:
        async with db.transaction() as session:
            await audit.record(
                session, actor=f"web:{login}"[:100], action="web_signin_locked", now=now
            )
        return SignIn(ok=False, locked_until=locked)
    right = await asyncio.to_thread(_verify, hashed, password)
    ok = right and account is not None and bool(staff)
    async with db.transaction() as session:
        stored = await session.get(WebAccount, login, with_for_update=True)
        if stored is not None:
            if ok:
                stored.failures, stored.locked_until = 0, None
                if HASHER.check_needs_rehash(stored.password_hash):
                    stored.password_hash = await asyncio.to_thread(HASHER.hash, password)
            else:
                stored.failures += 1
                wait = locked_for(stored.failures, policy)
                stored.locked_until = now + wait if wait else None
        await audit.record(
            session,
            actor=f"web:{login}"[:100],
            action="web_signin" if ok else "web_signin_failed",
            now=now,
        )
        until = stored.locked_until if stored is not None and not ok else None
    return SignIn(ok=ok, staff=staff if ok else [], locked_until=until)
