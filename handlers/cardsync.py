"""A ticket's card, sent again after a change so every chat that shows it is edited in place.

Complaints have a card of their own (with the kind and severity buttons, also shown to
supervisors and the director); every other kind uses the common task card.
"""

from __future__ import annotations

from handlers import complaint
from handlers.cards import card_updates
from handlers.context import Context
from handlers.messages import Reply
from storage.models import Ticket, TicketKind


async def refreshed_cards(ctx: Context, ticket: Ticket) -> list[Reply]:
    if ticket.kind == TicketKind.complaint:
        return await complaint.card_pushes(ctx, ticket)
    return await card_updates(ctx.session, ticket)
