"""What a handler gets: the open session, the sender, their locale, the policy and a clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.clock import Clock
from handlers.core.messages import Choice, Incoming, Reply
from storage.models import ChatIdentity, Person, StaffMember

if TYPE_CHECKING:
    from bot.settings import Settings
    from handlers.core.i18n import Catalogs


@dataclass
class Context:
    """One message being handled, inside one database transaction."""

    session: AsyncSession
    settings: Settings
    catalogs: Catalogs
    clock: Clock
    msg: Incoming
    identity: ChatIdentity
    locale: str
    person: Person | None = None
    staff: list[StaffMember] = field(default_factory=list)
    # Pushes decided on the way, sent with the answer even when the step refuses the input
    # (the desk warned of invitation codes being guessed while the guess is turned down).
    also_send: list[Reply] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    @property
    def actor(self) -> str:
        """How this sender appears in histories and the audit log."""
        if self.staff:
            return f"staff:{self.staff[0].id}"
        if self.person is not None:
            return f"person:{self.person.id}"
        return f"{self.msg.channel}:{self.msg.user_id}"

    def is_role(self, *roles: str) -> bool:
        return any(member.role in roles and member.active for member in self.staff)

    @staticmethod
    def say(key: str, *choices: Choice, **params: Any) -> Reply:
        return Reply(key=key, params=params, choices=tuple(choices))
