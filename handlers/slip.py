"""Release slips (放行条): request, the owner's consent, the desk's decision, the gate.

A bound resident lists what leaves, when and in which vehicle. The request is a slip
ticket and a `ReleaseSlip` with a short code. Who decides follows handlers/rules/slip.py:
the owner (buttons in their chat) when the applicant is not an owner, the service desk
when the unit is in arrears or no owner is reachable; otherwise it is approved at once.
An approved slip reaches the applicant as a code and a QR image, and the security group.
The guard checks it with `/slip <code>` and marks it used: once, on its date. The
applicant follows and cancels it in `/my`; a cancelled slip's code is void at the gate at
once and the security group is told. Every decision is a ticket event and an audit entry.
Only an owner is told of the unit's arrears; the desk always sees them in full.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import qrcode
from sqlmodel import col, select

from handlers import fees
from handlers.binding import require_binding, role_text
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Money, Recipient, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.directory import bound_units, department_chats, people_with_role, person_chats
from handlers.rules import slip as rules
from handlers.rules.fees import Statement
from handlers.rules.phone import mask_phone
from handlers.staffauth import acting_member
from storage import audit, tickets
from storage.models import (
    Binding,
    Department,
    Person,
    ReleaseSlip,
    Role,
    Ticket,
    TicketKind,
    TicketStatus,
    Unit,
)

WINDOWS = ("morning", "afternoon", "evening")


# ---- the request ----------------------------------------------------------------------


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """`/slip <code>` is the guard's check; `/slip` alone (or the menu) is a request."""
    command = ctx.msg.command
    code = command[1] if command and command[0] == "slip" else ""
    if code:
        return await check(ctx, code)
    if ctx.msg.chat_kind == "group":
        return [Reply("slip.check.usage")]
    refusal = await require_binding(ctx)
    if refusal is not None:
        return [Reply("slip.check.usage")] if guards(ctx) else refusal
    return await fees.begin_with_unit(ctx, None, {})


def items_of(answers: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The items step collects one list per message; the slip keeps them as one list."""
    collected = answers.get("items") or answers.get("_items") or []
    return [item for batch in collected for item in batch]


def items_text(items: Sequence[Mapping[str, Any]]) -> Any:
    lines = [
        Text("slip.item", {"name": i["name"], "qty": i["qty"], "measure": i["measure"]})
        for i in items
    ]
    return fees.joined(lines, "slip.items.join", "-")


def window_text(value: str) -> Any:
    return Text(f"slip.window.{value[7:]}") if value.startswith("window:") else value


def _plate(plate: str | None) -> Any:
    return plate or Text("slip.no_plate")


def day_of(answers: Mapping[str, Any]) -> date:
    """The day step keeps `{"day": ISO date, "part": part of the day or None}`."""
    value = answers["day"]
    return date.fromisoformat(value["day"] if isinstance(value, Mapping) else value)


def day_part(answers: Mapping[str, Any]) -> str | None:
    """The part of the day named with the date (`明天上午`), if any."""
    value = answers.get("day")
    part = value.get("part") if isinstance(value, Mapping) else None
    return part if part in WINDOWS else None


def window_of(answers: Mapping[str, Any]) -> str:
    """The window chosen or typed; else the part of the day named with the date."""
    if answers.get("window"):
        return str(answers["window"])
    part = day_part(answers)
    return f"window:{part}" if part else ""


async def summarize(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    unit = await fees.chosen_unit(ctx, answers)
    return {
        "unit": unit.label if unit else "",
        "items": items_text(items_of(answers)),
        "plate": _plate(answers.get("plate")),
        "day": day_of(answers),
        "window": window_text(window_of(answers)),
    }


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """Record the request and send it where the rules say: approval, the owner or the desk."""
    unit = await fees.chosen_unit(ctx, answers)
    person = ctx.person
    if unit is None or person is None or person.id is None:
        return [Reply("fee.not_your_unit")]
    role = await _role(ctx, unit)
    statement = await fees.unit_statement(ctx.session, unit, fees.local_today(ctx))
    owners = await _owner_chats(ctx, unit, person.id)
    status = rules.first_status(role, bool(owners), statement.has_arrears)
    items = items_of(answers)
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=unit.community_id,
        kind=TicketKind.slip,
        department=Department.service,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        unit_id=unit.id,
        person_id=person.id,
        channel=ctx.msg.channel,
        chat_id=ctx.msg.chat_id,
        contact_name=person.name,
        contact_phone=person.phone or "",
        description="、".join(f"{i['name']}{i['qty']}{i['measure']}" for i in items)[:2000],
        details={"role": role, "plate": answers.get("plate") or "", "window": window_of(answers)},
    )
    assert ticket.id is not None and unit.id is not None
    slip = ReleaseSlip(
        code=await _unused_code(ctx),
        ticket_id=ticket.id,
        unit_id=unit.id,
        person_id=person.id,
        items=items,
        plate=answers.get("plate") or "",
        day=day_of(answers),
        window=window_of(answers)[:50],
        status=status,
    )
    ctx.session.add(slip)
    await ctx.session.flush()
    if status == rules.APPROVED:
        return await _approve(ctx, slip, ticket, "auto_approved")
    if status == rules.OWNER_PENDING:
        return await _to_owners(ctx, slip, ticket, owners)
    no_owner = rules.needs_owner(role) and not owners
    return await _to_desk(ctx, slip, ticket, statement, no_owner)


async def _role(ctx: Context, unit: Unit) -> str:
    links = await bound_units(ctx.session, ctx.person.id if ctx.person else None)
    return next((link.role for bound, link in links if bound.id == unit.id), Role.tenant)


async def _owner_chats(ctx: Context, unit: Unit, applicant_id: int) -> list[Recipient]:
    """The chats of the unit's owners other than the applicant (those who can consent)."""
    owners = await ctx.session.exec(
        select(Binding.person_id).where(
            Binding.unit_id == unit.id,
            Binding.role == Role.owner,
            Binding.person_id != applicant_id,
        )
    )
    chats: list[Recipient] = []
    for person_id in owners.all():
        chats.extend(await person_chats(ctx.session, person_id))
    return chats


async def _unused_code(ctx: Context) -> str:
    while True:
        code = rules.new_code(secrets.randbelow)
        taken = await ctx.session.exec(select(ReleaseSlip.id).where(ReleaseSlip.code == code))
        if taken.first() is None:
            return code


# ---- where a request goes ----------------------------------------------------------------


async def _card(ctx: Context, slip: ReleaseSlip, ticket: Ticket) -> dict[str, Any]:
    unit = await ctx.session.get(Unit, slip.unit_id)
    applicant = await ctx.session.get(Person, slip.person_id)
    return {
        "number": ticket.number,
        "code": slip.code,
        "unit": unit.label if unit else "",
        "name": applicant.name if applicant else "",
        "phone": mask_phone(applicant.phone if applicant else ""),
        "role": role_text(str(ticket.details.get("role", ""))),
        "items": items_text(slip.items),
        "plate": _plate(slip.plate),
        "day": slip.day,
        "window": window_text(slip.window),
        "status": Text(f"slip.status.{slip.status}"),
    }


async def _to_owners(
    ctx: Context, slip: ReleaseSlip, ticket: Ticket, owners: list[Recipient]
) -> list[Reply]:
    await tickets.record_change(
        ctx.session, ticket, actor=ctx.actor, action="sent_to_owner", now=ctx.now
    )
    card = await _card(ctx, slip, ticket)
    buttons = (
        OwnerApproves(slip.id or 0).choice("slip.owner.approve"),
        OwnerDenies(slip.id or 0).choice("slip.owner.deny"),
    )
    asks = [
        Reply("slip.owner.request", card, choices=buttons, to=chat, card=f"slip:{slip.id}:owner")
        for chat in owners
    ]
    return [*await _tell_applicant(ctx, slip, "slip.waiting_owner", card), *asks]


async def _desk_chats(ctx: Context, community_id: int) -> list[Recipient]:
    chats = await department_chats(ctx.session, community_id, Department.service)
    return chats or await people_with_role(ctx.session, community_id, "supervisor")


async def _to_desk(
    ctx: Context, slip: ReleaseSlip, ticket: Ticket, statement: Statement, no_owner: bool
) -> list[Reply]:
    """The service desk decides: arrears (months and total), or no owner to ask.

    The desk sees every reason; the applicant hears of the arrears only as an owner (a
    tenant or household member is not told what the owner owes).
    """
    slip.status = rules.DESK_PENDING
    ctx.session.add(slip)
    reasons, told = _desk_reasons(ticket, statement, no_owner)
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action="sent_to_desk",
        now=ctx.now,
        data={"arrears": str(statement.total_arrears)},
    )
    card = {**await _card(ctx, slip, ticket), "reason": fees.joined(reasons, "slip.reasons.join")}
    pushes = [
        Reply(
            "slip.staff.desk",
            card,
            choices=_desk_buttons(slip),
            to=chat,
            card=f"slip:{slip.id}:desk",
        )
        for chat in await _desk_chats(ctx, ticket.community_id)
    ]
    waiting = {**card, "why": fees.joined(told, "slip.reasons.join")}
    key = "slip.waiting_desk" if told else "slip.waiting_desk.plain"
    return [*await _tell_applicant(ctx, slip, key, waiting), *pushes]


def _desk_buttons(slip: ReleaseSlip) -> tuple[Choice, ...]:
    return (
        DeskApproves(slip.id or 0).choice("slip.desk.approve"),
        DeskDenies(slip.id or 0).choice("slip.desk.deny"),
    )


async def desk_card(ctx: Context, ticket: Ticket) -> list[Reply]:
    """A slip waiting for the desk, drawn again (`/tasks`), with its reasons as they stand."""
    slip = (
        await ctx.session.exec(select(ReleaseSlip).where(ReleaseSlip.ticket_id == ticket.id))
    ).first()
    unit = await ctx.session.get(Unit, slip.unit_id) if slip else None
    if slip is None or unit is None or slip.status != rules.DESK_PENDING:
        return []
    statement = await fees.unit_statement(ctx.session, unit, fees.local_today(ctx))
    owners = await _owner_chats(ctx, unit, slip.person_id)
    no_owner = rules.needs_owner(str(ticket.details.get("role", ""))) and not owners
    reasons, _ = _desk_reasons(ticket, statement, no_owner)
    card = {**await _card(ctx, slip, ticket), "reason": fees.joined(reasons, "slip.reasons.join")}
    return [Reply("slip.staff.desk", card, choices=_desk_buttons(slip))]


def _desk_reasons(
    ticket: Ticket, statement: Statement, no_owner: bool
) -> tuple[list[Any], list[Any]]:
    """Why the desk decides: every reason for the desk, and what the applicant is told."""
    reasons: list[Any] = []  # for the desk, in full
    told: list[Any] = []  # for the applicant
    if no_owner:
        reasons.append(Text("slip.reason.no_owner"))
        told.append(Text("slip.why.no_owner"))
    if statement.has_arrears:
        if rules.may_see_arrears(str(ticket.details.get("role", ""))):
            told.append(Text("slip.why.arrears"))
        months = [fees.month_text(d.month) for d in statement.arrears]
        reasons.append(
            Text(
                "slip.reason.arrears",
                {
                    "months": fees.joined(months, "fee.join"),
                    "total": Money(statement.total_arrears),
                },
            )
        )
    return reasons, told


async def _tell_applicant(
    ctx: Context, slip: ReleaseSlip, key: str, params: Mapping[str, Any], photo: str | None = None
) -> list[Reply]:
    """The applicant answered in this chat while they write; in their own chats otherwise."""
    if ctx.person is not None and ctx.person.id == slip.person_id:
        return [Reply(key, params, photo=photo)]
    return [
        Reply(key, params, photo=photo, to=chat)
        for chat in await person_chats(ctx.session, slip.person_id)
    ]


async def _approve(ctx: Context, slip: ReleaseSlip, ticket: Ticket, action: str) -> list[Reply]:
    """Approve: the applicant gets the code and QR image, the security group the slip."""
    slip.status, slip.decided_by = rules.APPROVED, ctx.actor
    ctx.session.add(slip)
    await _decided(ctx, slip, ticket, action, TicketStatus.accepted)
    card = await _card(ctx, slip, ticket)
    image = await qr_image(slip.code, Path(ctx.settings.data_dir) / "slips")
    guards = [
        Reply("slip.staff.approved", card, to=chat, card=f"slip:{slip.id}:gate")
        for chat in await department_chats(ctx.session, ticket.community_id, Department.security)
    ]
    return [*await _tell_applicant(ctx, slip, "slip.approved", card, str(image)), *guards]


async def _decided(
    ctx: Context,
    slip: ReleaseSlip,
    ticket: Ticket,
    action: str,
    to_status: str | None,
    data: dict[str, Any] | None = None,
) -> None:
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=ctx.actor,
        action=action,
        now=ctx.now,
        to_status=to_status,
        data=data,
    )
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action=f"slip_{action}",
        target=slip.code,
        detail={"slip_id": slip.id, "ticket": ticket.number, "status": slip.status, **(data or {})},
        now=ctx.now,
    )


async def qr_image(code: str, directory: Path) -> Path:
    """A PNG QR code of the slip, to show at the gate; written once per code."""

    def write() -> Path:
        path = directory.resolve() / f"{code}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        qrcode.make(rules.QR_PREFIX + code).save(path)
        return path

    return await asyncio.to_thread(write)


# ---- decisions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OnSlip(Action):
    slip: int


@dataclass(frozen=True)
class OwnerApproves(OnSlip):
    name: ClassVar[str] = "slip_owner_ok"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class OwnerDenies(OnSlip):
    name: ClassVar[str] = "slip_owner_no"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class DeskApproves(OnSlip):
    name: ClassVar[str] = "slip_desk_ok"


@dataclass(frozen=True)
class DeskDenies(OnSlip):
    name: ClassVar[str] = "slip_desk_no"


@dataclass(frozen=True)
class MarkUsed(OnSlip):
    """The guard lets the goods out: the slip is used."""

    name: ClassVar[str] = "slip_use"


async def _slip(ctx: Context, ref: int) -> tuple[ReleaseSlip, Ticket] | None:
    slip = await ctx.session.get(ReleaseSlip, ref)
    ticket = await ctx.session.get(Ticket, slip.ticket_id) if slip else None
    return (slip, ticket) if slip and ticket else None


def _already(slip: ReleaseSlip) -> Reply:
    return Reply(
        "slip.already_decided",
        {"code": slip.code, "status": Text(f"slip.status.{slip.status}")},
    )


async def _is_owner(ctx: Context, unit_id: int) -> bool:
    links = await bound_units(ctx.session, ctx.person.id if ctx.person else None)
    return any(unit.id == unit_id and link.role == Role.owner for unit, link in links)


async def owner_approves(ctx: Context, action: OwnerApproves) -> list[Reply]:
    return await _owner_decides(ctx, action.slip, approve=True)


async def owner_denies(ctx: Context, action: OwnerDenies) -> list[Reply]:
    return await _owner_decides(ctx, action.slip, approve=False)


async def _owner_decides(ctx: Context, argument: int, approve: bool) -> list[Reply]:
    """Only an owner of the slip's unit may answer; the answer is given once."""
    found = await _slip(ctx, argument)
    if found is None:
        return [Reply("dialog.stale")]
    slip, ticket = found
    if not await _is_owner(ctx, slip.unit_id):
        return [Reply("dialog.not_allowed")]
    if slip.status != rules.OWNER_PENDING:
        return [_already(slip)]
    slip.decided_by = ctx.actor
    card = f"slip:{slip.id}:owner"
    if not approve:
        thanks = Reply("slip.owner.denied_thanks", {"code": slip.code}, card=card)
        return [thanks, *await _deny(ctx, slip, ticket, "owner_denied", "slip.denied_by_owner")]
    unit = await ctx.session.get(Unit, slip.unit_id)
    assert unit is not None
    statement = await fees.unit_statement(ctx.session, unit, fees.local_today(ctx))
    if rules.after_owner_consent(statement.has_arrears) == rules.APPROVED:
        thanks = Reply("slip.owner.thanks", {"code": slip.code}, card=card)
        return [thanks, *await _approve(ctx, slip, ticket, "owner_approved")]
    # The owner may hear of their own arrears: the slip still needs the desk.
    thanks = Reply("slip.owner.thanks_desk", {"code": slip.code}, card=card)
    await _decided(ctx, slip, ticket, "owner_approved", None)
    return [thanks, *await _to_desk(ctx, slip, ticket, statement, no_owner=False)]


async def _deny(
    ctx: Context, slip: ReleaseSlip, ticket: Ticket, action: str, key: str
) -> list[Reply]:
    slip.status = rules.DENIED
    ctx.session.add(slip)
    await _decided(ctx, slip, ticket, action, TicketStatus.cannot_do)
    card = await _card(ctx, slip, ticket)
    return await _tell_applicant(ctx, slip, key, card)


async def desk_approves(ctx: Context, action: DeskApproves) -> list[Reply]:
    return await _desk_decides(ctx, action.slip, approve=True)


async def desk_denies(ctx: Context, action: DeskDenies) -> list[Reply]:
    return await _desk_decides(ctx, action.slip, approve=False)


async def _desk_decides(ctx: Context, argument: int, approve: bool) -> list[Reply]:
    """The service desk (or a supervisor) of the slip's community decides, once."""
    found = await _slip(ctx, argument)
    if found is None:
        return [Reply("dialog.stale")]
    slip, ticket = found
    member = acting_member(ctx, ticket.community_id, Department.service)
    if member is None:
        return [Reply("dialog.not_allowed")]
    if slip.status != rules.DESK_PENDING:
        return [_already(slip)]
    if approve:
        replies = await _approve(ctx, slip, ticket, "desk_approved")
    else:
        replies = await _deny(ctx, slip, ticket, "desk_denied", "slip.denied_by_desk")
    card = {**await _card(ctx, slip, ticket), "by": member.name}
    updates = [
        Reply("slip.staff.decided", card, to=chat, card=f"slip:{slip.id}:desk")
        for chat in await _desk_chats(ctx, ticket.community_id)
    ]
    answered_here = any(
        r.to is not None and (r.to.channel, r.to.chat_id) == (ctx.msg.channel, ctx.msg.chat_id)
        for r in updates
    )
    own = [] if answered_here else [Reply("slip.staff.decided", card)]
    return [*replies, *updates, *own]


# ---- at the gate ---------------------------------------------------------------------


def guards(ctx: Context) -> bool:
    """Whether the sender checks slips at the gate: security staff and managers."""
    return any(
        m.active and (m.role in MANAGERS or m.department == Department.security) for m in ctx.staff
    )


@dataclass(frozen=True)
class Checked:
    """What the gate's check found: `verdict` is one of `rules.verdict`'s, or `unknown`
    (no such code, or another community's) or `not_allowed`; `reply` is what the guard is
    told, with the "used" button when the slip may go out."""

    verdict: str
    reply: Reply
    slip: ReleaseSlip | None = None
    card: Mapping[str, Any] | None = None


async def checked(ctx: Context, code: str) -> Checked:
    """The guard's check of a code (chat's `/slip <code>` and the desk's gate page)."""
    if not guards(ctx):
        return Checked("not_allowed", Reply("dialog.not_allowed"))
    wanted = rules.normalise_code(code)
    slip = (await ctx.session.exec(select(ReleaseSlip).where(ReleaseSlip.code == wanted))).first()
    ticket = await ctx.session.get(Ticket, slip.ticket_id) if slip else None
    unknown = Reply("slip.check.unknown", {"code": wanted[:12]})
    if slip is None or ticket is None:
        return Checked("unknown", unknown)
    if acting_member(ctx, ticket.community_id, Department.security) is None:
        return Checked("unknown", unknown)  # another community's
    verdict = rules.verdict(slip.status, slip.day, fees.local_today(ctx))
    card = {
        **await _card(ctx, slip, ticket),
        "verdict": Text(f"slip.verdict.{verdict}", {"day": slip.day, "used": slip.used_at}),
    }
    choices = (MarkUsed(slip.id or 0).choice("slip.use"),) if verdict == "valid" else ()
    return Checked(verdict, Reply("slip.check", card, choices=choices), slip, card)


async def check(ctx: Context, code: str) -> list[Reply]:
    """`/slip <code>`: what the guard needs to compare with the goods, and a "used" button."""
    return [(await checked(ctx, code)).reply]


async def mark_used(ctx: Context, action: MarkUsed) -> list[Reply]:
    """The goods went out: the slip is used and cannot be shown again."""
    found = await _slip(ctx, action.slip)
    if found is None:
        return [Reply("dialog.stale")]
    slip, ticket = found
    if acting_member(ctx, ticket.community_id, Department.security) is None:
        return [Reply("dialog.not_allowed")]
    verdict = rules.verdict(slip.status, slip.day, fees.local_today(ctx))
    if verdict != "valid":
        reason = Text(f"slip.verdict.{verdict}", {"day": slip.day, "used": slip.used_at})
        return [Reply("slip.use.refused", {"code": slip.code, "reason": reason})]
    slip.status, slip.used_at, slip.checked_by = rules.USED, ctx.now, ctx.actor
    ctx.session.add(slip)
    await _decided(ctx, slip, ticket, "used", TicketStatus.done)
    card = await _card(ctx, slip, ticket)
    notice = [
        Reply("slip.used_notice", card, to=chat)
        for chat in await person_chats(ctx.session, slip.person_id)
    ]
    return [Reply("slip.use.done", card), *notice]


# ---- the applicant's own slips (/my) ----------------------------------------------------


async def slip_of(ctx: Context, ticket: Ticket) -> ReleaseSlip | None:
    """The slip of a slip ticket; None for any other ticket."""
    if ticket.kind != TicketKind.slip:
        return None
    found = await ctx.session.exec(select(ReleaseSlip).where(ReleaseSlip.ticket_id == ticket.id))
    return found.first()


async def slips_of(ctx: Context, listed: Sequence[Ticket]) -> dict[int, ReleaseSlip]:
    """The slips of the slip tickets among `listed`, by ticket id (one query)."""
    ids = [t.id for t in listed if t.kind == TicketKind.slip and t.id is not None]
    if not ids:
        return {}
    rows = await ctx.session.exec(select(ReleaseSlip).where(col(ReleaseSlip.ticket_id).in_(ids)))
    return {slip.ticket_id: slip for slip in rows.all()}


def state_of(ctx: Context, slip: ReleaseSlip) -> str:
    return rules.state(slip.status, slip.day, fees.local_today(ctx))


def can_cancel(ctx: Context, slip: ReleaseSlip) -> bool:
    return rules.cancellable(slip.status, slip.day, fees.local_today(ctx))


def state_text(ctx: Context, slip: ReleaseSlip) -> Text:
    return Text(f"slip.state.{state_of(ctx, slip)}")


def _code_shown(slip: ReleaseSlip, state: str) -> Any:
    """The code where it means something: not before approval, void after cancelling."""
    if state in rules.PENDING:
        return Text("slip.my.code_pending")
    if state == rules.CANCELLED:
        return Text("slip.my.code_void", {"code": slip.code})
    if state == rules.DENIED:
        return Text("slip.my.code_none")
    return slip.code


async def resident_view(ctx: Context, slip: ReleaseSlip, ticket: Ticket) -> dict[str, Any]:
    """A slip as its applicant reads it in /my: code, day and window, items, state, history."""
    state = state_of(ctx, slip)
    events = await tickets.history(ctx.session, ticket.id or 0)
    history = [
        Text("slip.my.event", {"at": e.at, "what": Text(f"slip.event.{e.action}")})
        for e in events
        if e.action in rules.EVENTS
    ]
    return {
        **await _card(ctx, slip, ticket),
        "state": Text(f"slip.state.{state}"),
        "code": _code_shown(slip, state),
        "history": history,
    }


async def show_code(ctx: Context, slip: ReleaseSlip, ticket: Ticket) -> list[Reply]:
    """The code and QR image again, for the gate; only while the slip can be used."""
    if state_of(ctx, slip) != rules.APPROVED:
        return [Reply("slip.my.no_code", {"number": ticket.number, "state": state_text(ctx, slip)})]
    image = await qr_image(slip.code, Path(ctx.settings.data_dir) / "slips")
    return [Reply("slip.my.code", await _card(ctx, slip, ticket), photo=str(image))]


async def cancel(ctx: Context, slip: ReleaseSlip, ticket: Ticket) -> list[Reply]:
    """The applicant withdraws a request or gives back an approved slip; the code is void.

    Whoever holds the slip hears of it: the security group is told an approved code is
    void (the gate's check says so too), and the owner's or the desk's card waiting for a
    decision loses its buttons.
    """
    if not can_cancel(ctx, slip):
        state = state_text(ctx, slip)
        return [Reply("slip.cancel.too_late", {"number": ticket.number, "state": state})]
    was = slip.status
    slip.status = rules.CANCELLED
    ctx.session.add(slip)
    await _decided(ctx, slip, ticket, "cancelled", TicketStatus.cancelled, {"was": was})
    card = await _card(ctx, slip, ticket)
    pushes: list[Reply] = []
    if was == rules.APPROVED:
        # A code for today may still be shown at the gate tonight: that notice never waits
        # out the quiet hours; a later day's can wait for the morning.
        for_today = slip.day == fees.local_today(ctx)
        pushes = [
            Reply("slip.staff.void", card, to=chat, urgent=for_today)
            for chat in await department_chats(
                ctx.session, ticket.community_id, Department.security
            )
        ]
    elif was == rules.OWNER_PENDING:
        unit = await ctx.session.get(Unit, slip.unit_id)
        owners = await _owner_chats(ctx, unit, slip.person_id) if unit else []
        pushes = [
            Reply("slip.owner.withdrawn", card, to=chat, card=f"slip:{slip.id}:owner")
            for chat in owners
        ]
    elif was == rules.DESK_PENDING:
        pushes = [
            Reply("slip.staff.withdrawn", card, to=chat, card=f"slip:{slip.id}:desk")
            for chat in await _desk_chats(ctx, ticket.community_id)
        ]
    return [Reply("slip.cancel.done", card), *pushes]
