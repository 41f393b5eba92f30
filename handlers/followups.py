"""Follow-up tasks (跟进事务, `T-…` tickets): work the registers hand a department when
something waits too long — phone a resident who has not answered about a walk-in visitor,
chase a parcel nobody collects, get an overdue key back.

A follow-up is a ticket like any other: it goes to the department's groups as a card,
is worked with the task buttons (accept, start, done, cannot do), escalates by its
deadline and counts in the figures. No resident is told about it: it is the office's own
work, so it carries no resident and no revisit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.cardsync import refreshed_cards
from handlers.core.context import Context
from handlers.core.messages import Reply
from storage import tickets
from storage.models import Department, Ticket, TicketKind


async def open_task(
    ctx: Context,
    *,
    community_id: int,
    department: Department,
    description: str,
    due_at: datetime,
    unit_id: int | None = None,
    details: dict[str, Any] | None = None,
    contact_name: str = "",
    contact_phone: str = "",
    urgent: bool = False,
) -> tuple[Ticket, list[Reply]]:
    """A follow-up for `department`, due at `due_at`, with its card sent to the groups.
    `description` is what to do, in the office's language (the card shows it as is);
    `details` says what it follows up (`{"visit": 7}`, `{"parcel": 3}`, `{"key_loan": 2}`)."""
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=community_id,
        kind=TicketKind.task,
        department=department,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        unit_id=unit_id,
        channel="system",
        description=description[:2000],
        details=dict(details or {}),
        contact_name=contact_name[:100],
        contact_phone=contact_phone[:30],
        urgent=urgent,
        due_at=due_at,
    )
    return ticket, await refreshed_cards(ctx, ticket)
