"""A unit's move-in on the desk's web page: what it shows (to those who may see the papers)
and what the desk types there (the household, a fee, the keys, the re-inspection's time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.movein import card_choices
from handlers.movein_cancel import cancel
from handlers.movein_checklist import (
    collect_fee,
    keys_handed,
    read_fee,
    read_household,
    read_key_count,
    register_household,
)
from handlers.movein_invitation import owner_bound
from handlers.movein_papers import sees_papers
from handlers.movein_record import (
    OPEN,
    View,
    desk_member,
    latest,
    view,
)
from handlers.movein_reinspection import agree_reinspection, read_reinspection
from storage.models import (
    Community,
    MoveIn,
    StaffMember,
    Unit,
)


@dataclass
class Page:
    """A unit's move-in page: the unit, and its move-in if one was opened."""

    unit: Unit
    community: Community
    found: View | None
    buttons: list[Choice]  # the card's own buttons pressed on the page (`act:` ones)
    owner_bound: bool = False  # the owner's (or delegate's) chat is bound


async def page(session: AsyncSession, staff: list[StaffMember], unit_id: int) -> Page | None:
    """What the desk's page shows; None for those who may not see the unit's papers."""
    unit = await session.get(Unit, unit_id)
    if unit is None or not sees_papers(staff, unit.community_id):
        return None
    community = await session.get(Community, unit.community_id)
    assert community is not None
    move_in = await latest(session, unit_id)
    found = await view(session, move_in) if move_in else None
    buttons = [c for c in card_choices(found) if c.value.startswith("act:")] if found else []
    bound = await owner_bound(session, move_in) if move_in else False
    return Page(unit, community, found, buttons, bound)


async def open_for_page(ctx: Context, unit_id: int) -> MoveIn | None:
    """The unit's open move-in, if the sender is its desk."""
    unit = await ctx.session.get(Unit, unit_id)
    if unit is None:
        return None
    move_in = await latest(ctx.session, unit_id)
    if move_in is None or move_in.status != OPEN or desk_member(ctx, unit.community_id) is None:
        return None
    return move_in


@dataclass
class Typed:
    """A form sent on the desk's page: the problem, or what to send (owner, groups)."""

    problem: Text | None = None
    pushes: list[Reply] = field(default_factory=list)


async def typed_on_page(ctx: Context, move_in: MoveIn, what: str, form: dict[str, str]) -> Typed:
    """The household, a fee, the keys, the re-inspection's time or why it is cancelled,
    typed on the page."""
    if what == "household":
        members = read_household(form.get("members", ""))
        if isinstance(members, Text):
            return Typed(members)
        await register_household(ctx, move_in, members)
        return Typed()
    if what == "fee":
        fee = read_fee(form.get("amount", ""), form.get("receipt", ""))
        if isinstance(fee, Text):
            return Typed(fee)
        done = await collect_fee(ctx, move_in, *fee)
        if isinstance(done, str):
            return Typed(Text(done, {"receipt": fee[1]}))
        return Typed(pushes=done)
    if what == "keys":
        count = read_key_count(form.get("count", ""))
        which = form.get("which", "").strip()[:200]
        if isinstance(count, Text):
            return Typed(count)
        if not which:
            return Typed(Text("movein.keys.which"))
        keys_handed(ctx, move_in, count, which)
        ctx.session.add(move_in)
        return Typed()
    if what == "reinspect":
        when = read_reinspection(ctx, form.get("when", ""))
        if isinstance(when, Text):
            return Typed(when)
        told = await agree_reinspection(ctx, move_in, when)
        return Typed(pushes=[r for r in told if r.to is not None])
    if what == "cancel":
        reason = form.get("reason", "").strip()
        if not reason:
            return Typed(Text("movein.cancel.reason"))
        told = await cancel(ctx, move_in, reason)
        return Typed(pushes=[r for r in told if r.to is not None])
    return Typed(Text("movein.stale"))
