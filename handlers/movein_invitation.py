"""The owner's invitation code of a move-in: issued at opening for the owner's chat (their
delegate's when one acts for them). Completing the move-in binds their chat: if they have
bound with the code by then, nothing is left to do; if not, the code is kept valid and the
move-in pack printout carries an invitation slip with its QR. A code is stored by its key
only and shown once, so the slip is a fresh code that replaces the earlier one.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.binding import Issued, issue_code
from handlers.core.context import Context
from handlers.movein_record import COMPLETED, desk_member, latest, owner_chats
from handlers.rules.binding import CODE_LIFETIME, code_key
from storage.models import InviteCode, MoveIn, Role, Unit


async def invitation(session: AsyncSession, move_in: MoveIn) -> InviteCode | None:
    """The move-in's current invitation (the move-in keeps its key, never the code)."""
    return await session.get(InviteCode, move_in.invite_code) if move_in.invite_code else None


async def owner_bound(session: AsyncSession, move_in: MoveIn) -> bool:
    """Whether the owner (or their delegate) has a chat bound: with the code or before."""
    return bool(await owner_chats(session, move_in))


async def issue(ctx: Context, unit: Unit, move_in: MoveIn) -> Issued:
    """A code for the owner's chat (their delegate's when one acts for them), kept on the
    move-in by its key; an earlier one not used yet is voided."""
    earlier = await invitation(ctx.session, move_in)
    if earlier is not None and earlier.used_at is None:
        earlier.expires_at = ctx.now
        ctx.session.add(earlier)
    role = Role.delegate if move_in.delegate_id else Role.owner
    issued = await issue_code(ctx.session, unit, role, ctx.actor, ctx.now)
    invite = await ctx.session.get(InviteCode, code_key(issued.code))
    reader = move_in.delegate_id or move_in.owner_id
    if invite is not None and reader is not None:
        invite.person_id = reader
        ctx.session.add(invite)
    move_in.invite_code = code_key(issued.code)  # its key as stored, never the code itself
    ctx.session.add(move_in)
    return issued


async def keep_valid(ctx: Context, move_in: MoveIn) -> None:
    """At completion, an owner not bound yet keeps their code: valid a full term again."""
    invite = await invitation(ctx.session, move_in)
    if invite is not None and invite.used_at is None:
        until = ctx.now + CODE_LIFETIME
        if invite.expires_at is None or invite.expires_at < until:
            invite.expires_at = until
            ctx.session.add(invite)


async def for_pack(ctx: Context, unit_id: int) -> tuple[MoveIn, Issued] | None:
    """The slip for the move-in pack: a completed move-in whose owner has not bound their
    chat yet, printed by its desk; None otherwise."""
    unit = await ctx.session.get(Unit, unit_id)
    if unit is None or desk_member(ctx, unit.community_id) is None:
        return None
    move_in = await latest(ctx.session, unit_id)
    if move_in is None or move_in.status != COMPLETED:
        return None
    if await owner_bound(ctx.session, move_in):
        return None
    return move_in, await issue(ctx, unit, move_in)
