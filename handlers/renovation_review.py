"""Renovation: the reviewers' decisions, the approval, the waste fee, the end.

The desk (the service department, or a manager) approves or refuses; the desk or the
repair department asks for changes, and the applicant resubmits through the same flow
with their earlier answers offered again. A change to the main structure or a marked
load increase is not approved until the housing authority's approval is among the papers
(handlers/rules/renovation.py `approval_blocked`). Approval gives the permit number
(施工许可证, `<community>-ZX-<year>-<n>`, counted per community and year), the workers'
passes (handlers/renovation_passes.py), the waste-removal fee to collect (the policy's
`renovation_waste_fee`, recorded with its receipt when the desk takes it), tells the
repair and security groups, and moves the unit to `renovating`. At the end (the owner's
report; with `renovation_completion_check` the repair group's check first) the passes
expire, the papers stay archived with the renovation, and the unit goes back to the stage
it had. Every decision is in `reviews` (who, when, what) and in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

from sqlmodel import col, func, select

from handlers import ledger_entries, renovation_passes, unit_life
from handlers.core.context import Context
from handlers.core.messages import Money, Reply, Text
from handlers.directory import department_chats
from handlers.fees import receipt_used
from handlers.policies import for_community
from handlers.renovation import (
    IN_REVIEW,
    OPEN,
    PAPER_KINDS,
    Approve,
    Cancel,
    Completed,
    Passed,
    S,
    add_paper,
    audited,
    card_params,
    desk_member,
    flow_choice,
    has_authority,
    local_today,
    record,
    review_cards,
    reviewer,
    tell_applicant,
    workers_of,
)
from handlers.rules import renovation as rules
from storage import tickets
from storage.models import (
    Community,
    Department,
    Person,
    Renovation,
    StaffMember,
    Ticket,
    TicketStatus,
    Unit,
    UnitStage,
)


async def _found(ctx: Context, ref: int) -> tuple[Renovation, Ticket] | None:
    renovation = await ctx.session.get(Renovation, ref, with_for_update=True)
    ticket = (
        await ctx.session.get(Ticket, renovation.ticket_id)
        if renovation and renovation.ticket_id
        else None
    )
    return (renovation, ticket) if renovation and ticket else None


async def _decidable(
    ctx: Context,
    ref: int,
    who: Callable[[Context, int], StaffMember | None],
    statuses: Collection[str],
) -> tuple[Renovation, Ticket] | Reply:
    """The renovation and its ticket when the sender (`who`: the desk, or a reviewer) may
    decide it at its present status; else what to answer."""
    found = await _found(ctx, ref)
    if found is None:
        return Reply("dialog.stale")
    renovation, _ = found
    if who(ctx, renovation.community_id) is None:
        return Reply("reno.review.not_allowed")
    if renovation.status not in statuses:
        return _already(renovation)
    return found


def _already(renovation: Renovation) -> Reply:
    return Reply("reno.already", {"status": Text(f"reno.status.{renovation.status}")})


def _review(ctx: Context, renovation: Renovation, decision: str, note: str = "") -> None:
    entry = {"at": ctx.now.isoformat(), "by": ctx.actor, "decision": decision, "note": note}
    renovation.reviews = [*renovation.reviews, entry]
    ctx.session.add(renovation)


async def _decided(
    ctx: Context,
    renovation: Renovation,
    ticket: Ticket,
    decision: str,
    to_status: str | None,
    note: str = "",
) -> None:
    _review(ctx, renovation, decision, note)
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action=f"renovation_{decision}",
        now=ctx.now,
        to_status=to_status,
        note=note[:500],
    )
    await audited(ctx, renovation, decision, ticket=ticket.number, note=note[:200])


def _answered_here(ctx: Context, replies: list[Reply]) -> bool:
    return any(
        r.to is not None and (r.to.channel, r.to.chat_id) == (ctx.msg.channel, ctx.msg.chat_id)
        for r in replies
    )


async def _cards(ctx: Context, renovation: Renovation, said: Reply) -> list[Reply]:
    """The reviewers' cards drawn again, and what was decided said to whoever decided
    where no card of theirs is (a private chat, the web pages)."""
    cards = await review_cards(ctx, renovation)
    return [said, *cards] if not _answered_here(ctx, cards) else [*cards, said]


# ---- approve ---------------------------------------------------------------------------------


async def permit_number(ctx: Context, renovation: Renovation) -> str:
    """`XFL-ZX-2026-0001`: the community's permits of the year, counted."""
    community = await ctx.session.get(Community, renovation.community_id)
    year = local_today(ctx).year
    prefix = f"{community.code if community else 'ZX'}-ZX-{year}-"
    taken = (
        await ctx.session.exec(
            select(func.count())
            .select_from(Renovation)
            .where(
                Renovation.community_id == renovation.community_id,
                col(Renovation.permit_number).startswith(prefix),
            )
        )
    ).one()
    return f"{prefix}{int(taken) + 1:04d}"


async def approve(ctx: Context, action: Approve) -> list[Reply]:
    found = await _decidable(ctx, action.renovation, desk_member, (S.submitted,))
    if isinstance(found, Reply):
        return [found]
    renovation, ticket = found
    blocked = rules.approval_blocked(
        rules.Plan(
            renovation.structural,
            renovation.load_increase,
            await has_authority(ctx.session, renovation),
        )
    )
    if blocked is not None:
        return [Reply(f"reno.blocked.{blocked}", await card_params(ctx, renovation))]
    policy = await for_community(ctx.session, ctx.settings, renovation.community_id)
    renovation.permit_number = await permit_number(ctx, renovation)
    renovation.status = S.approved
    renovation.decided_at = ctx.now
    renovation.fee = policy.renovation_waste_fee
    await _decided(ctx, renovation, ticket, "approved", TicketStatus.accepted)
    unit = await ctx.session.get(Unit, renovation.unit_id)
    assert unit is not None
    try:
        await unit_life.move(
            ctx.session,
            unit,
            UnitStage.renovating,
            actor=ctx.actor,
            now=ctx.now,
            note=renovation.permit_number,
        )
    except unit_life.StageRefused:
        pass  # a unit not yet handed over keeps its stage; the renovation goes on
    _, passes = await renovation_passes.issue(ctx, renovation, workers_of(ticket))
    params = await card_params(ctx, renovation)
    params["fee"] = Money(renovation.fee or Decimal(0))
    permit = Reply("reno.approved", params)
    watch = Reply(
        "reno.staff.watch",
        {**params, "watch": _watch_text(renovation)},
    )
    groups = [
        Reply(watch.key, watch.params, to=chat, card=f"renovation:{renovation.id}:watch")
        for department in (Department.repair, Department.security)
        for chat in await department_chats(ctx.session, renovation.community_id, department)
    ]
    said = Reply(
        "reno.review.approved",
        params,
        choices=(flow_choice("renovation_fee", renovation, "reno.btn.fee"),),
    )
    return [
        *await tell_applicant(ctx, renovation, permit),
        *passes,
        *groups,
        *await _cards(ctx, renovation, said),
    ]


def _watch_text(renovation: Renovation) -> Any:
    key = (
        "reno.watch.structure"
        if renovation.structural or renovation.load_increase
        else "reno.watch.plain"
    )
    return Text(key)


# ---- changes, refusal ------------------------------------------------------------------------


async def ask_changes(ctx: Context, ref: int, what: str) -> list[Reply]:
    found = await _decidable(ctx, ref, reviewer, (S.submitted,))
    if isinstance(found, Reply):
        return [found]
    renovation, ticket = found
    renovation.status = S.changes
    await _decided(ctx, renovation, ticket, "changes", None, what)
    params = {**await card_params(ctx, renovation), "what": what}
    told = Reply(
        "reno.changes_asked",
        params,
        choices=(flow_choice("renovation", renovation, "reno.btn.resubmit"),),
    )
    said = Reply("reno.review.changes", params)
    return [*await tell_applicant(ctx, renovation, told), *await _cards(ctx, renovation, said)]


async def refuse(ctx: Context, ref: int, reasons: str) -> list[Reply]:
    found = await _decidable(ctx, ref, desk_member, IN_REVIEW)
    if isinstance(found, Reply):
        return [found]
    renovation, ticket = found
    renovation.status = S.refused
    renovation.decided_at = ctx.now
    await _decided(ctx, renovation, ticket, "refused", TicketStatus.cannot_do, reasons)
    params = {**await card_params(ctx, renovation), "reasons": reasons}
    told = Reply("reno.refused", params)
    said = Reply("reno.review.refused", params)
    return [*await tell_applicant(ctx, renovation, told), *await _cards(ctx, renovation, said)]


# ---- papers attached later, the fee --------------------------------------------------------------


async def attach_authority(ctx: Context, ref: int, photo: str) -> list[Reply]:
    """The authority's approval, attached after the application by the applicant (or an
    owner of the unit) in chat: the reviewers' card says so, and approval is possible."""
    return await attach_paper(ctx, ref, "authority", file_ref=photo)


async def attach_paper(
    ctx: Context, ref: int, kind: str, *, file_ref: str = "", stored_path: str | None = None
) -> list[Reply]:
    """A paper kept with the renovation later: by its applicant's side in chat, or by the
    desk on the renovation's page (a paper brought to the counter)."""
    renovation = await ctx.session.get(Renovation, ref)
    if renovation is None or kind not in PAPER_KINDS:
        return [Reply("dialog.stale")]
    if not await _may_owner(ctx, renovation) and desk_member(ctx, renovation.community_id) is None:
        return [Reply("dialog.not_allowed")]
    if renovation.status not in OPEN:
        return [_already(renovation)]
    await add_paper(ctx, renovation, kind, file_ref, stored_path=stored_path)
    await audited(ctx, renovation, "paper_attached", kind=kind)
    params = await card_params(ctx, renovation)
    said = Reply("reno.authority.kept" if kind == "authority" else "reno.paper.kept", params)
    cards = await review_cards(ctx, renovation) if renovation.status in IN_REVIEW else []
    return [said, *cards]


async def record_fee(ctx: Context, ref: int, receipt: str) -> list[Reply]:
    """The waste-removal fee taken at the desk, with its receipt number (used once)."""
    renovation = await ctx.session.get(Renovation, ref, with_for_update=True)
    if renovation is None or renovation.fee is None:
        return [Reply("dialog.stale")]
    if desk_member(ctx, renovation.community_id) is None:
        return [Reply("reno.review.not_allowed")]
    if renovation.fee_receipt:
        return [Reply("reno.fee.already", {"receipt": renovation.fee_receipt})]
    taken = await ctx.session.exec(
        select(Renovation.id).where(Renovation.fee_receipt == receipt).limit(1)
    )
    if taken.first() is not None or await receipt_used(ctx.session, receipt):
        return [Reply("reno.fee.duplicate", {"receipt": receipt})]
    applicant = (
        await ctx.session.get(Person, renovation.applicant_id) if renovation.applicant_id else None
    )
    entry = await ledger_entries.record_in(
        ctx.session,
        tz=ctx.settings.tz,
        now=ctx.now,
        clerk=ctx.actor,
        audited=False,  # the fee's own audit row below names the entry
        community_id=renovation.community_id,
        receipt=receipt,
        purpose="waste",
        method="cash",
        amount=renovation.fee,
        payer=applicant.name if applicant else "",
        unit_id=renovation.unit_id,
        source=f"renovation:{renovation.id}",
    )
    if isinstance(entry, ledger_entries.Refused):
        return [Reply(entry.key, {"receipt": receipt})]
    renovation.fee_receipt = receipt
    record(ctx, renovation, "fee", amount=str(renovation.fee), receipt=receipt)
    await audited(
        ctx, renovation, "fee", amount=str(renovation.fee), receipt=receipt, ledger_entry=entry.id
    )
    params = {"fee": Money(renovation.fee), "receipt": receipt}
    told = Reply("reno.fee.receipt", params)
    return [Reply("reno.fee.recorded", params), *await tell_applicant(ctx, renovation, told)]


# ---- the end ---------------------------------------------------------------------------------


def _is_applicant_side(ctx: Context, renovation: Renovation) -> bool:
    return ctx.person is not None and ctx.person.id == renovation.applicant_id


async def _may_owner(ctx: Context, renovation: Renovation) -> bool:
    from handlers.renovation_apply import applicant_units

    if _is_applicant_side(ctx, renovation):
        return True
    return any(u.id == renovation.unit_id for u, _ in await applicant_units(ctx))


async def cancel(ctx: Context, action: Cancel) -> list[Reply]:
    found = await _found(ctx, action.renovation)
    if found is None:
        return [Reply("dialog.stale")]
    renovation, ticket = found
    if not await _may_owner(ctx, renovation):
        return [Reply("dialog.not_allowed")]
    if renovation.status not in IN_REVIEW:
        return [_already(renovation)]
    renovation.status = S.cancelled
    record(ctx, renovation, "cancelled")
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action="cancelled",
        now=ctx.now,
        to_status=TicketStatus.cancelled,
    )
    await audited(ctx, renovation, "cancelled", ticket=ticket.number)
    await renovation_passes.expire(ctx, renovation)
    params = await card_params(ctx, renovation)
    return [Reply("reno.cancelled", params), *await review_cards(ctx, renovation)]


async def completed(ctx: Context, action: Completed) -> list[Reply]:
    """The owner reports the work done: finished at once, or checked first where the
    community checks."""
    found = await _found(ctx, action.renovation)
    if found is None:
        return [Reply("dialog.stale")]
    renovation, ticket = found
    if not await _may_owner(ctx, renovation):
        return [Reply("dialog.not_allowed")]
    if renovation.status not in (S.approved, S.failed):
        return [_already(renovation)]
    policy = await for_community(ctx.session, ctx.settings, renovation.community_id)
    if not policy.renovation_completion_check:
        return await finish(ctx, renovation, ticket, "finished")
    renovation.status = S.inspecting
    record(ctx, renovation, "reported_done")
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action="renovation_reported_done",
        now=ctx.now,
        to_status=TicketStatus.in_progress,
    )
    await audited(ctx, renovation, "reported_done", ticket=ticket.number)
    params = await card_params(ctx, renovation)
    buttons = (
        Passed(renovation.id or 0).choice("reno.btn.passed"),
        flow_choice("renovation_failed", renovation, "reno.btn.failed"),
    )
    checks = [
        Reply(
            "reno.staff.inspect",
            params,
            choices=buttons,
            to=chat,
            card=f"renovation:{renovation.id}:inspect",
        )
        for chat in await department_chats(ctx.session, renovation.community_id, Department.repair)
    ]
    return [Reply("reno.inspecting", params), *checks]


async def passed(ctx: Context, action: Passed) -> list[Reply]:
    found = await _decidable(ctx, action.renovation, reviewer, (S.inspecting,))
    if isinstance(found, Reply):
        return [found]
    renovation, ticket = found
    _review(ctx, renovation, "passed")
    return await finish(ctx, renovation, ticket, "passed")


async def failed(ctx: Context, ref: int, what: str) -> list[Reply]:
    found = await _decidable(ctx, ref, reviewer, (S.inspecting,))
    if isinstance(found, Reply):
        return [found]
    renovation, ticket = found
    renovation.status = S.failed
    await _decided(ctx, renovation, ticket, "failed", None, what)
    params = {**await card_params(ctx, renovation), "what": what}
    told = Reply(
        "reno.failed",
        params,
        choices=(Completed(renovation.id or 0).choice("reno.btn.completed"),),
    )
    said = Reply("reno.staff.failed", params, card=f"renovation:{renovation.id}:inspect")
    return [said, *await tell_applicant(ctx, renovation, told)]


async def finish(ctx: Context, renovation: Renovation, ticket: Ticket, how: str) -> list[Reply]:
    """The end: passes expired, papers archived with the renovation, the unit's stage back
    to what it was, the ticket done; the owner and the groups told."""
    renovation.status = S.finished
    renovation.finished_at = ctx.now
    record(ctx, renovation, "archived")
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action=f"renovation_{how}",
        now=ctx.now,
        to_status=TicketStatus.closed,
    )
    await audited(ctx, renovation, how, ticket=ticket.number)
    await renovation_passes.expire(ctx, renovation)
    unit = await ctx.session.get(Unit, renovation.unit_id)
    assert unit is not None
    await unit_life.move_back(
        ctx.session,
        unit,
        UnitStage.renovating,
        otherwise=UnitStage.occupied,
        actor=ctx.actor,
        now=ctx.now,
        note=renovation.permit_number,
    )
    params = await card_params(ctx, renovation)
    groups = [
        Reply("reno.staff.finished", params, to=chat)
        for department in (Department.service, Department.repair, Department.security)
        for chat in await department_chats(ctx.session, renovation.community_id, department)
    ]
    told = Reply("reno.finished", params)
    return [*await tell_applicant(ctx, renovation, told), *groups]
