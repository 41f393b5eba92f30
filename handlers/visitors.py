"""Visitors (访客): a resident pre-registers a visitor and gets a gate code to forward.

A bound resident names the unit, the visitor (name, phone, plate, purpose), the expected
arrival and departure and the companions. Over the unit's daily limit the arrival step
is refused politely, with every answer kept. The visit gets a 7-character code (a slip's
has 6, a worker's pass 8) and a QR image (`FDVISIT:<code>`), sent to the resident with
a message to forward to the visitor. When the community's `visitor_approval` is on, the
visit waits for the service desk (a card with approve / refuse) and the code is sent on
approval. The resident lists their visits with `/visitors` and may call one off: the
code is void at once and the security group is told when it was expected today.

The gate's side is handlers/visitors_gate.py, the walk-in handlers/visitors_walkin.py.
This module also holds what those share: the visit's card, its history, the policy.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import qrcode
from sqlmodel import col, func, select

from handlers import fees, policies
from handlers.binding import require_binding
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.directory import department_chats, people_with_role, person_chats
from handlers.rules import slip as slip_rules
from handlers.rules import visitors as rules
from handlers.rules.phone import mask_phone
from handlers.staffauth import acting_member
from storage import audit
from storage.models import Community, Department, Person, Unit, Visit

MINE_LIMIT = 10  # a resident's list: upcoming first, then the latest gone by


# ---- what the gate, the desk and the resident share ---------------------------------------


async def policy_for(ctx: Context, community_id: int) -> rules.Policy:
    found = await policies.for_community(ctx.session, ctx.settings, community_id)
    return rules.Policy(
        approval=found.visitor_approval,
        daily_limit=found.visitor_daily_limit,
        free_parking_minutes=found.visitor_free_parking_minutes,
        confirm_minutes=found.visitor_confirm_minutes,
        early_minutes=found.visitor_early_minutes,
    )


def plate_text(plate: str) -> Any:
    return plate or Text("visitor.no_plate")


def status_text(status: str) -> Text:
    return Text(f"visitor.status.{status}")


async def card(ctx: Context, visit: Visit) -> dict[str, Any]:
    """The visit as staff and the host read it (the visitor's phone masked)."""
    unit = await ctx.session.get(Unit, visit.unit_id)
    host = await ctx.session.get(Person, visit.host_id) if visit.host_id else None
    return {
        "code": visit.code,
        "name": visit.name,
        "phone": mask_phone(visit.phone) or "-",
        "unit": unit.label if unit else "",
        "host": host.name if host else Text("visitor.no_host"),
        "purpose": visit.purpose or "-",
        "companions": visit.companions,
        "plate": plate_text(visit.plate),
        "from": visit.expected_at,
        "to": visit.leaves_by,
        "status": status_text(visit.status),
    }


async def remember(ctx: Context, visit: Visit, what: str, **more: Any) -> None:
    """A check, decision or passage: in the visit's history and the audit log."""
    entry = rules.history_entry(what, ctx.actor, ctx.now, **more)
    visit.history = [*visit.history, entry]
    ctx.session.add(visit)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action=f"visit_{what}",
        target=visit.code,
        detail={"visit_id": visit.id, **more},
        now=ctx.now,
    )
    await ctx.session.flush()


async def unused_code(ctx: Context) -> str:
    while True:
        code = slip_rules.new_code(secrets.randbelow, rules.CODE_LENGTH)
        taken = await ctx.session.exec(select(Visit.id).where(Visit.code == code))
        if taken.first() is None:
            return code


async def qr_image(code: str, directory: Path) -> Path:
    """A PNG QR code of the visit's code, to show at the gate; written once per code."""

    def write() -> Path:
        path = directory.resolve() / f"{code}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            qrcode.make(rules.QR_PREFIX + code).save(path)
        return path

    return await asyncio.to_thread(write)


def _image_dir(ctx: Context) -> Path:
    return Path(ctx.settings.data_dir) / "visitors"


async def gate_chats(ctx: Context, community_id: int) -> list[Recipient]:
    return await department_chats(ctx.session, community_id, Department.security)


async def desk_chats(ctx: Context, community_id: int) -> list[Recipient]:
    chats = await department_chats(ctx.session, community_id, Department.service)
    return chats or await people_with_role(ctx.session, community_id, "supervisor")


async def to_host(
    ctx: Context, visit: Visit, key: str, params: Mapping[str, Any], **extra: Any
) -> list[Reply]:
    """The host answered here while they write; in their own chats otherwise."""
    if ctx.person is not None and ctx.person.id == visit.host_id:
        return [Reply(key, params, **extra)]
    return [
        Reply(key, params, to=chat, **extra)
        for chat in await person_chats(ctx.session, visit.host_id)
    ]


def local_day(ctx: Context, moment: datetime) -> Any:
    return moment.astimezone(ctx.settings.tz).date()


# ---- the resident registers a visitor ------------------------------------------------------


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """Bound residents only, in their own chat; a sole unit is taken without asking."""
    refusal = await require_binding(ctx)
    if refusal is not None:
        return refusal
    return await fees.begin_with_unit(ctx, None, {})


async def registered_on(ctx: Context, unit_id: int, moment: datetime) -> int:
    """How many visits the unit has registered for the local day of `moment`."""
    start, end = rules.day_span(local_day(ctx, moment), ctx.settings.tz)
    found = await ctx.session.exec(
        select(func.count())
        .select_from(Visit)
        .where(
            Visit.unit_id == unit_id,
            col(Visit.status).in_(rules.COUNTED),
            col(Visit.expected_at) >= start,
            col(Visit.expected_at) < end,
        )
    )
    return int(found.one())


async def limit_refusal(ctx: Context, unit: Unit, moment: datetime) -> Text | None:
    """Why no more visits may be registered for that day, or None."""
    policy = await policy_for(ctx, unit.community_id)
    assert unit.id is not None
    if rules.within_limit(await registered_on(ctx, unit.id, moment), policy):
        return None
    return Text(
        "visitor.error.limit",
        {"limit": policy.daily_limit, "day": local_day(ctx, moment), "unit": unit.label},
    )


def arrival_of(answers: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(answers["arrival"]))


def departure_of(answers: Mapping[str, Any]) -> datetime:
    if answers.get("departure"):
        return datetime.fromisoformat(str(answers["departure"]))
    return rules.default_departure(arrival_of(answers))


async def summarize(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    unit = await fees.chosen_unit(ctx, answers)
    return {
        "unit": unit.label if unit else "",
        "name": answers.get("name", ""),
        "phone": answers.get("phone", ""),
        "plate": plate_text(answers.get("plate") or ""),
        "purpose": answers.get("purpose") or "-",
        "from": arrival_of(answers),
        "to": departure_of(answers),
        "companions": int(answers.get("companions") or 0),
    }


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """Record the visit; the code goes out at once, or after the desk's approval."""
    unit = await fees.chosen_unit(ctx, answers)
    person = ctx.person
    if unit is None or person is None or person.id is None or unit.id is None:
        return [Reply("fee.not_your_unit")]
    arrives = arrival_of(answers)
    refused = await limit_refusal(ctx, unit, arrives)
    if refused is not None:  # another registration got there first: keep what was typed
        kept = await summarize(ctx, answers)
        return [Reply("visitor.limit_at_submit", {"why": refused, **kept})]
    policy = await policy_for(ctx, unit.community_id)
    visit = Visit(
        community_id=unit.community_id,
        unit_id=unit.id,
        host_id=person.id,
        source="resident",
        code=await unused_code(ctx),
        name=str(answers["name"])[:100],
        phone=str(answers.get("phone") or "")[:30],
        plate=str(answers.get("plate") or "")[:20],
        purpose=str(answers.get("purpose") or "")[:200],
        companions=int(answers.get("companions") or 0),
        expected_at=arrives,
        leaves_by=departure_of(answers),
        status=rules.PENDING if policy.approval else rules.EXPECTED,
        registered_by=ctx.actor,
        created_at=ctx.now,
    )
    ctx.session.add(visit)
    await ctx.session.flush()
    await remember(ctx, visit, "registered", source="resident")
    if policy.approval:
        return await _to_desk(ctx, visit)
    return await issue(ctx, visit)


async def issue(ctx: Context, visit: Visit) -> list[Reply]:
    """The code, its QR image and a message to forward, for the host."""
    shown = await card(ctx, visit)
    community = await _community_name(ctx, visit)
    image = await qr_image(visit.code, _image_dir(ctx))
    replies = await to_host(ctx, visit, "visitor.issued", shown)
    replies += await to_host(ctx, visit, "visitor.image", shown, photo=str(image))
    replies += await to_host(ctx, visit, "visitor.forward", {**shown, "community": community})
    return replies


async def _community_name(ctx: Context, visit: Visit) -> str:
    community = await ctx.session.get(Community, visit.community_id)
    return community.name if community else ""


# ---- the desk's approval ------------------------------------------------------------------


@dataclass(frozen=True)
class OnVisit(Action):
    visit: int


@dataclass(frozen=True)
class DeskApproves(OnVisit):
    name: ClassVar[str] = "visit_desk_ok"


@dataclass(frozen=True)
class DeskRefuses(OnVisit):
    name: ClassVar[str] = "visit_desk_no"


async def _to_desk(ctx: Context, visit: Visit) -> list[Reply]:
    shown = await card(ctx, visit)
    buttons = (
        DeskApproves(visit.id or 0).choice("visitor.desk.approve"),
        DeskRefuses(visit.id or 0).choice("visitor.desk.refuse"),
    )
    cards = [
        Reply(
            "visitor.desk.request", shown, choices=buttons, to=chat, card=f"visit:{visit.id}:desk"
        )
        for chat in await desk_chats(ctx, visit.community_id)
    ]
    return [Reply("visitor.waiting_desk", shown), *cards]


async def desk_approves(ctx: Context, action: DeskApproves) -> list[Reply]:
    return await _desk_decides(ctx, action.visit, approve=True)


async def desk_refuses(ctx: Context, action: DeskRefuses) -> list[Reply]:
    return await _desk_decides(ctx, action.visit, approve=False)


async def _desk_decides(ctx: Context, visit_id: int, approve: bool) -> list[Reply]:
    """The service desk (or a manager) of the visit's community decides, once."""
    visit = await ctx.session.get(Visit, visit_id)
    if visit is None:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, visit.community_id, Department.service)
    if member is None:
        return [Reply("dialog.not_allowed")]
    if visit.status != rules.PENDING:
        return [Reply("visitor.already_decided", await card(ctx, visit))]
    visit.status = rules.EXPECTED if approve else rules.REFUSED
    await remember(ctx, visit, "desk_approved" if approve else "desk_refused")
    if approve:
        told = await issue(ctx, visit)
    else:
        told = await to_host(ctx, visit, "visitor.refused_by_desk", await card(ctx, visit))
    shown = {**await card(ctx, visit), "by": member.name}
    updates = [
        Reply("visitor.desk.decided", shown, to=chat, card=f"visit:{visit.id}:desk")
        for chat in await desk_chats(ctx, visit.community_id)
    ]
    here = any(
        r.to is not None and (r.to.channel, r.to.chat_id) == (ctx.msg.channel, ctx.msg.chat_id)
        for r in updates
    )
    return [*told, *updates, *([] if here else [Reply("visitor.desk.decided", shown)])]


# ---- the resident's own visits -------------------------------------------------------------


@dataclass(frozen=True)
class MyVisits(Action):
    """The resident's list of their visits."""

    name: ClassVar[str] = "visit_mine"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class Cancel(OnVisit):
    name: ClassVar[str] = "visit_cancel"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class ShowCode(OnVisit):
    name: ClassVar[str] = "visit_code"
    private: ClassVar[bool] = True


async def mine(ctx: Context) -> list[Visit]:
    """The visits the sender registered or answered for: upcoming first, then the latest."""
    if ctx.person is None or ctx.person.id is None:
        return []
    rows = await ctx.session.exec(
        select(Visit)
        .where(Visit.host_id == ctx.person.id)
        .order_by(col(Visit.expected_at).desc())
        .limit(50)
    )
    found = list(rows.all())
    upcoming = sorted(
        (v for v in found if v.status in (*rules.WAITING, rules.ARRIVED)),
        key=lambda v: v.expected_at,
    )
    gone = [v for v in found if v not in upcoming]
    return (upcoming + gone)[:MINE_LIMIT]


async def list_command(ctx: Context, argument: str = "") -> list[Reply]:
    """`/visitors`: the resident's visits with their codes, state, and a cancel button."""
    refusal = await require_binding(ctx)
    if refusal is not None:
        return refusal
    visits = await mine(ctx)
    if not visits:
        return [Reply("visitor.mine.none", choices=(Choice("flow:visit", "visitor.mine.new"),))]
    lines = []
    buttons: list[Choice] = []
    for visit in visits:
        shown = await card(ctx, visit)
        if visit.status not in (rules.EXPECTED, rules.ARRIVED):
            shown["code"] = "—"  # no code to forward: pending, void or used up
        lines.append(Text("visitor.mine.line", shown))
        if rules.cancellable(visit.status):
            buttons.append(Cancel(visit.id or 0).choice("visitor.mine.cancel", name=visit.name))
        if visit.status == rules.EXPECTED:
            buttons.append(ShowCode(visit.id or 0).choice("visitor.mine.code", name=visit.name))
    buttons.append(Choice("flow:visit", "visitor.mine.new"))
    listed = fees.joined(lines, "visitor.join")
    return [Reply("visitor.mine", {"visits": listed, "count": len(visits)}, choices=tuple(buttons))]


async def upcoming_reply(ctx: Context) -> list[Reply]:
    """`/my`'s share: the resident's visitors list, while one is still to come or inside."""
    visits = await mine(ctx)
    if not any(v.status in (*rules.WAITING, rules.ARRIVED) for v in visits):
        return []
    return await list_command(ctx)


async def list_action(ctx: Context, action: MyVisits) -> list[Reply]:
    return await list_command(ctx)


async def _own(ctx: Context, visit_id: int) -> Visit | None:
    """The visit if the sender is its host; a forged or another's id finds nothing."""
    visit = await ctx.session.get(Visit, visit_id)
    if visit is None or ctx.person is None or visit.host_id != ctx.person.id:
        return None
    return visit


async def show_code(ctx: Context, action: ShowCode) -> list[Reply]:
    visit = await _own(ctx, action.visit)
    if visit is None:
        return [Reply("dialog.stale")]
    if visit.status != rules.EXPECTED:
        return [Reply("visitor.no_code", await card(ctx, visit))]
    return await issue(ctx, visit)


async def cancel(ctx: Context, action: Cancel) -> list[Reply]:
    """The host calls the visit off: the code is void at once; the security group is told
    when the visitor was expected today (at once, whatever the hour: they may be at the
    gate tonight); a desk card still waiting loses its buttons."""
    visit = await _own(ctx, action.visit)
    if visit is None:
        return [Reply("dialog.stale")]
    if not rules.cancellable(visit.status):
        return [Reply("visitor.cancel.too_late", await card(ctx, visit))]
    was = visit.status
    visit.status = rules.CANCELLED
    await remember(ctx, visit, "cancelled", was=was)
    shown = await card(ctx, visit)
    pushes: list[Reply] = []
    if was == rules.EXPECTED and local_day(ctx, visit.expected_at) == fees.local_today(ctx):
        pushes = [
            Reply("visitor.gate.void", shown, to=chat, urgent=True)
            for chat in await gate_chats(ctx, visit.community_id)
        ]
    elif was == rules.PENDING:
        pushes = [
            Reply("visitor.desk.withdrawn", shown, to=chat, card=f"visit:{visit.id}:desk")
            for chat in await desk_chats(ctx, visit.community_id)
        ]
    return [Reply("visitor.cancel.done", shown), *pushes]
