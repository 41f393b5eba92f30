"""The desk cancels a move-in (the sale fell through, it was opened for the wrong unit): the
unit goes back to not handed over, the invitation code issued at opening is voided unless
the owner has used it, the inspection ticket is cancelled (the repair group's card says so),
and the owner is told. The move-in is kept as it was, with who cancelled it, when and why.
"""

from __future__ import annotations

from handlers import unit_life
from handlers.core.context import Context
from handlers.core.messages import Reply
from handlers.movein_inspection import inspection_card
from handlers.movein_invitation import invitation
from handlers.movein_record import CANCELLED, audited, tell_owner
from handlers.rules import movein as rules
from storage import tickets
from storage.models import MoveIn, Ticket, TicketStatus, Unit, UnitStage

REASON_MOST = 200


async def cancel(ctx: Context, move_in: MoveIn, reason: str) -> list[Reply]:
    """Cancel the open move-in, with why; the sender is its desk (checked by the caller)."""
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    reason = reason.strip()[:REASON_MOST]
    try:
        await unit_life.move(
            ctx.session,
            unit,
            UnitStage.not_handed_over,
            actor=ctx.actor,
            now=ctx.now,
            note=reason,
        )
    except unit_life.StageRefused:
        return [Reply("movein.refused.stage", {"unit": unit.label})]
    invite = await invitation(ctx.session, move_in)
    if invite is not None and invite.used_at is None:
        invite.expires_at = ctx.now  # void: sent later, it is refused as expired
        ctx.session.add(invite)
    ticket = (
        await ctx.session.get(Ticket, move_in.inspection_ticket_id)
        if move_in.inspection_ticket_id
        else None
    )
    if ticket is not None and ticket.status not in {*rules.FIXED, TicketStatus.cancelled}:
        await tickets.record_change(
            ctx.session,
            ticket,
            actor=ctx.actor,
            action="cancelled",
            now=ctx.now,
            to_status=TicketStatus.cancelled,
            note=reason,
        )
    move_in.status = CANCELLED
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": ctx.actor, "what": "cancelled", "reason": reason},
    ]
    ctx.session.add(move_in)
    await audited(ctx, move_in, "cancelled", reason=reason)
    params = {"unit": unit.label}
    cards = await inspection_card(ctx, move_in, ticket) if ticket is not None else []
    return [
        Reply("movein.cancelled", params),
        *cards,
        *await tell_owner(ctx.session, move_in, "movein.owner.cancelled", params),
    ]
