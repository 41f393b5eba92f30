"""A ticket's card, sent again after a change so every chat that shows it is edited in place.

Each kind draws its own card: a complaint (with its kind and severity buttons, also shown
to supervisors and the director), a fee request, a question; repairs and the rest use the
repair card of handlers/cards.py.
"""

from __future__ import annotations

from handlers.cards import card_updates
from handlers.core.context import Context
from handlers.core.messages import Reply
from storage.models import Ticket, TicketKind


async def refreshed_cards(ctx: Context, ticket: Ticket) -> list[Reply]:
    # The kinds' modules use this one, so they are imported when a card is drawn.
    from handlers import complaint, fees, question

    if ticket.kind == TicketKind.complaint:
        return await complaint.card_pushes(ctx, ticket)
    if ticket.kind == TicketKind.question:
        return await question.card(ctx, ticket)
    if ticket.kind == TicketKind.fee:
        return await fees.card_pushes(ctx, ticket)
    if ticket.kind == TicketKind.patrol:
        from handlers import custody_patrols

        return await custody_patrols.patrol_card(ctx, ticket)
    if ticket.kind == TicketKind.task and ticket.details.get("followup") == "notice_board":
        from handlers import notice_board

        return await notice_board.board_card(ctx, ticket)
    if ticket.kind == TicketKind.renovation:
        from handlers import renovation

        return await renovation.ticket_cards(ctx, ticket)
    if ticket.kind == TicketKind.nonconformity:
        from handlers import inspections_slips

        return await inspections_slips.slip_card(ctx, ticket)
    if ticket.kind == TicketKind.rental:
        from handlers import rentals_enquiries

        return await rentals_enquiries.card(ctx, ticket)
    if ticket.kind == TicketKind.service:
        from handlers import services

        return await services.card(ctx, ticket)
    if ticket.kind == TicketKind.visit:
        from handlers import visit_plans

        return await visit_plans.visit_card(ctx, ticket)
    return await card_updates(ctx.session, ticket)
