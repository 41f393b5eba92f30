"""A unit's move-in (入住), worked through by the desk with the owner over days: opening it
(the unit goes to handing over, the owner's invitation code is issued), the desk's card
with what is left, the owner's view of their progress, the owner's sign-off and the
completion that hands the unit over and sets its handover date, from which the warranty
runs.

The rest is in its own modules: `movein_record` (reading and recording a move-in),
`movein_actions` (its buttons), `movein_papers` (the private papers), `movein_checklist`
(forms, household, fees, keys), `movein_inspection` (the repair department's inspection,
the base readings, the defects), `movein_reinspection`, `movein_invitation` (the owner's
code, kept valid and printed in the pack while their chat is not bound), `movein_cancel`
and `movein_page` (the desk's page).
"""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import movein_invitation, unit_life
from handlers.binding import Issued
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.directory import department_chats, unit_by_label
from handlers.fees import local_today
from handlers.movein_actions import (
    Complete,
    Inspect,
    SignOff,
    Tick,
)
from handlers.movein_record import (
    COMPLETED,
    OPEN,
    View,
    audited,
    desk_member,
    flow_choice,
    item_text,
    latest,
    left_text,
    open_one,
    owner_move_in,
    tell_owner,
    view,
)
from handlers.rules import movein as rules
from storage import audit
from storage.models import (
    Binding,
    Department,
    MoveIn,
    Person,
    Role,
    Unit,
    UnitStage,
)

# ---- the desk's card in chat ----------------------------------------------------------------


def card_choices(found: View) -> tuple[Choice, ...]:
    """The buttons for what is left, each checked again when pressed."""
    move_in, left, ref = found.move_in, found.left, found.move_in.id or 0
    if move_in.status != OPEN:
        return ()
    buttons: list[Choice] = []
    if any(k.startswith("paper.") for k in left):
        buttons.append(flow_choice("movein_paper", move_in, "movein.btn.paper"))
    if "form.household" in left:
        buttons.append(flow_choice("movein_household", move_in, "movein.btn.household"))
    for form in ("service", "renovation", "rules"):
        if f"form.{form}" in left:
            buttons.append(Tick(ref, f"form_{form}").choice(item_text(f"form.{form}").key))
    if "fees" in left:
        buttons.append(flow_choice("movein_fee", move_in, "movein.btn.fee"))
    if "item.keys" in left:
        buttons.append(flow_choice("movein_keys", move_in, "movein.btn.keys"))
    for item in ("handbook", "renovation_notes", "diagrams"):
        if f"item.{item}" in left:
            buttons.append(Tick(ref, f"item_{item}").choice(item_text(f"item.{item}").key))
    if move_in.inspection_ticket_id is None:
        buttons.append(Inspect(ref).choice("movein.btn.inspect"))
    elif found.defects and "reinspected" in left:
        buttons.append(flow_choice("movein_reinspect", move_in, "movein.btn.reinspect"))
    if not left:
        buttons.append(Complete(ref).choice("movein.btn.complete"))
    buttons.append(flow_choice("movein_cancel", move_in, "movein.btn.cancel"))
    return tuple(buttons)


async def card(ctx: Context, move_in: MoveIn) -> Reply:
    found = await view(ctx.session, move_in)
    return Reply(
        "movein.card",
        {
            "unit": found.unit.label,
            # Known once the owner binds with the code or the household is registered.
            "owner": found.owner.name if found.owner else Text("movein.card.no_owner"),
            "delegate": Text("movein.card.delegate", {"name": found.delegate.name})
            if found.delegate
            else "",
            "status": Text(f"movein.status.{move_in.status}"),
            "left": left_text(found.left),
        },
        choices=card_choices(found),
    )


async def movein_command(ctx: Context, argument: str) -> list[Reply]:
    """`/movein <unit>`: open the unit's move-in, or show what is left of it. An owner
    (or their delegate) typing `/movein` sees how their own move-in is going."""
    if not ctx.staff:
        return await owner_progress(ctx)
    text = argument.strip()
    if not text:
        return [Reply("movein.usage")]
    unit = None
    for member in ctx.staff:
        if member.active and member.community_id is not None:
            unit = await unit_by_label(ctx.session, member.community_id, text)
            if unit is not None:
                break
    if unit is None or desk_member(ctx, unit.community_id) is None:
        return [Reply("movein.no_unit", {"unit": text[:50]})]
    existing = await latest(ctx.session, unit.id or 0)
    if existing is not None:
        return [await card(ctx, existing)]
    opened = await open_move_in(ctx, unit)
    if isinstance(opened, Reply):
        return [opened]
    move_in, issued = opened
    return [
        Reply(
            "movein.opened",
            {"unit": unit.label, "code": issued.code, "expires": issued.expires_at},
        ),
        await card(ctx, move_in),
    ]


async def owner_progress(ctx: Context) -> list[Reply]:
    """The owner's view: each of their open move-ins, what is left, the appointment."""
    return await open_progress(ctx) or [Reply("movein.owner.none")]


async def open_progress(ctx: Context) -> list[Reply]:
    """How each open move-in of the sender (owner or delegate) is going; none: nothing."""
    if ctx.person is None:
        return []
    rows = await ctx.session.exec(
        select(MoveIn)
        .where(
            MoveIn.status == OPEN,
            (col(MoveIn.owner_id) == ctx.person.id) | (col(MoveIn.delegate_id) == ctx.person.id),
        )
        .order_by(col(MoveIn.id))
    )
    replies = []
    for move_in in rows.all():
        found = await view(ctx.session, move_in)
        replies.append(
            Reply(
                "movein.owner.progress",
                {
                    "unit": found.unit.label,
                    "left": left_text(found.left),
                    "reinspect": Text("movein.owner.appointment", {"when": move_in.reinspect_at})
                    if move_in.reinspect_at and "reinspected" in found.left
                    else "",
                },
            )
        )
    return replies


# ---- opening ---------------------------------------------------------------------------------


async def _resident(session: AsyncSession, unit_id: int, role: str) -> Person | None:
    rows = await session.exec(
        select(Person)
        .join(Binding, col(Binding.person_id) == col(Person.id))
        .where(Binding.unit_id == unit_id, Binding.role == role)
        .order_by(col(Binding.id))
    )
    return rows.first()


async def open_move_in(ctx: Context, unit: Unit) -> tuple[MoveIn, Issued] | Reply:
    """Open the unit's move-in: the unit goes to handing over, and an invitation code is
    issued for the owner's chat (their delegate's, when one acts for them)."""
    assert unit.id is not None
    member = desk_member(ctx, unit.community_id)
    if member is None:
        return Reply("dialog.not_allowed")
    if unit.handover_date is not None:  # handed over before the move-ins were kept here
        return Reply("movein.refused.stage", {"unit": unit.label})
    try:
        await unit_life.move(
            ctx.session, unit, UnitStage.handing_over, actor=ctx.actor, now=ctx.now
        )
    except unit_life.StageRefused:
        return Reply("movein.refused.stage", {"unit": unit.label})
    owner = await _resident(ctx.session, unit.id, Role.owner)
    delegate = await _resident(ctx.session, unit.id, Role.delegate)
    move_in = MoveIn(
        community_id=unit.community_id,
        unit_id=unit.id,
        owner_id=owner.id if owner else None,
        delegate_id=delegate.id if delegate else None,
        opened_by=ctx.actor,
        opened_at=ctx.now,
        checklist={},
        history=[{"at": ctx.now.isoformat(), "by": ctx.actor, "what": "opened"}],
    )
    ctx.session.add(move_in)
    await ctx.session.flush()
    issued = await movein_invitation.issue(ctx, unit, move_in)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="movein_opened",
        target=f"unit:{unit.id}",
        detail={"move_in": move_in.id},
        now=ctx.now,
    )
    return move_in, issued


# ---- the checklist --------------------------------------------------------------------------


# ---- signing off and completing ----------------------------------------------------------------


async def ask_sign_off(ctx: Context, move_in: MoveIn) -> list[Reply]:
    """Once only the sign-off is left, the owner is asked for it in chat."""
    found = await view(ctx.session, move_in)
    if not rules.may_sign_off(found.left):
        return []
    return await tell_owner(
        ctx.session,
        move_in,
        "movein.owner.sign_off",
        {"unit": found.unit.label},
        SignOff(move_in.id or 0).choice("movein.btn.sign_off"),
    )


async def sign_off(ctx: Context, move_in: MoveIn, by: str) -> Text | None:
    """Record the owner's sign-off; why not, when something else is still left."""
    found = await view(ctx.session, move_in)
    if not rules.may_sign_off(found.left):
        return left_text([k for k in found.left if k != "signoff"])
    move_in.signed_off_at, move_in.signed_off_by = ctx.now, by[:100]
    await audited(ctx, move_in, "signed_off")  # the typed name stays out of the log
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": by[:100], "what": "signoff"},
    ]
    ctx.session.add(move_in)
    return None


async def owner_signs_off(ctx: Context, action: SignOff) -> list[Reply]:
    move_in = await owner_move_in(ctx, action.move_in)
    if isinstance(move_in, Reply):
        return [move_in]
    refused = await sign_off(ctx, move_in, ctx.actor)
    if refused is not None:
        return [Reply("movein.sign_off.not_yet", {"left": refused})]
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    desk = [
        Reply("movein.desk.signed_off", {"unit": unit.label}, to=chat)
        for chat in await department_chats(ctx.session, move_in.community_id, Department.service)
    ]
    return [Reply("movein.owner.signed_off", {"unit": unit.label}), *desk]


async def complete(ctx: Context, move_in: MoveIn) -> list[Reply] | Text:
    """Hand the unit over: its handover date is today (the warranty runs from it), the
    move-in is closed and kept as it is, and the owner is told. An owner whose chat is not
    bound yet keeps their code, to be printed in the move-in pack; the desk is told so."""
    found = await view(ctx.session, move_in)
    if found.left:
        return left_text(found.left)
    unit = found.unit
    await unit_life.move(ctx.session, unit, UnitStage.handed_over, actor=ctx.actor, now=ctx.now)
    unit.handover_date = local_today(ctx)
    ctx.session.add(unit)
    move_in.status, move_in.completed_at = COMPLETED, ctx.now
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": ctx.actor, "what": "completed"},
    ]
    ctx.session.add(move_in)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="movein_completed",
        target=f"unit:{unit.id}",
        detail={"move_in": move_in.id, "handover": unit.handover_date.isoformat()},
        now=ctx.now,
    )
    params = {"unit": unit.label, "date": unit.handover_date}
    done = [Reply("movein.completed", params)]
    if not await movein_invitation.owner_bound(ctx.session, move_in):
        await movein_invitation.keep_valid(ctx, move_in)  # printed in the move-in pack
        done.append(Reply("movein.completed.not_bound", {"unit": unit.label}))
    return [*done, *await tell_owner(ctx.session, move_in, "movein.owner.completed", params)]


async def complete_pressed(ctx: Context, action: Complete) -> list[Reply]:
    found = await open_one(ctx, action.move_in)
    if isinstance(found, Reply):
        return [found]
    done = await complete(ctx, found)
    if isinstance(done, Text):
        return [Reply("movein.complete.not_yet", {"left": done})]
    return done
