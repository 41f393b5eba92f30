"""A walk-in visitor (临时访客): the guard registers someone who came without a code, and
the unit's residents are asked in chat at once.

"访客 X 说来找您，是否放行？" goes to every chat of every resident bound to the unit,
urgent (a person waits at the gate: never held for the quiet hours), with 放行 / 不放行.
The first answer decides and the guard's chat is told; a later answer hears it was
already decided. Unanswered after `visitor_confirm_minutes` (a job), the security group
gets a follow-up task to phone the resident and the guard is told; a unit with no bound
resident in chat goes to that task at once. While the resident is being asked or phoned
the guard may still let the visitor in (after a call) or turn them away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from sqlmodel import col, select

from handlers import visitors
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Recipient, Reply, Text
from handlers.directory import closest_units, community_of, person_chats, unit_by_label
from handlers.followups import open_task
from handlers.rules import visitors as rules
from handlers.visitors_gate import VisitorIn, buttons, gate_member, guards
from storage import jobs
from storage.models import Binding, Department, Job, Person, Role, Unit, Visit

CONFIRM = "visitor_confirm"  # the job kind: nobody answered, phone the resident
PHONE_WITHIN = timedelta(minutes=15)  # the phone task's deadline: someone waits


class Refused(ValueError):
    """A unit the walk-in cannot be for; `key` and `params` say why, politely."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """`/walkin`: the gate's staff only; the community is the one whose gate they keep."""
    if not guards(ctx):
        return [Reply("dialog.not_allowed")]
    community_id = gate_community(ctx)
    if community_id is None:
        found = await community_of(ctx)
        community_id = found.id if found else None
    if community_id is None or gate_member(ctx, community_id) is None:
        return [Reply("dialog.not_allowed")]
    return {"_community": community_id}


def gate_community(ctx: Context) -> int | None:
    for member in ctx.staff:
        if member.active and member.community_id is not None:
            if gate_member(ctx, member.community_id) is not None:
                return member.community_id
    return None


async def find_unit(ctx: Context, community_id: int, typed: str) -> Unit:
    """The unit as the guard types it (`2号楼1单元802`, `2-1-802`); the nearest labels
    are offered when none matches."""
    unit = await unit_by_label(ctx.session, community_id, typed)
    if unit is not None:
        return unit
    near = await closest_units(ctx.session, community_id, typed, limit=3)
    if near:
        raise Refused(
            "visitor.walkin.error.near", typed=typed[:30], near="、".join(u.label for u in near)
        )
    raise Refused("visitor.walkin.error.unit", typed=typed[:30])


async def summarize(ctx: Context, answers: Any) -> dict[str, Any]:
    unit = await ctx.session.get(Unit, int(answers["unit"]))
    return {
        "unit": unit.label if unit else "",
        "name": answers.get("name", ""),
        "phone": answers.get("phone") or "-",
        "purpose": answers.get("purpose") or "-",
        "companions": int(answers.get("companions") or 0),
        "plate": visitors.plate_text(answers.get("plate") or ""),
    }


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    unit = await ctx.session.get(Unit, int(answers["unit"]))
    if unit is None or gate_member(ctx, unit.community_id) is None:
        return [Reply("dialog.not_allowed")]
    _, replies = await register(
        ctx,
        unit,
        name=str(answers["name"]),
        phone=str(answers.get("phone") or ""),
        purpose=str(answers.get("purpose") or ""),
        companions=int(answers.get("companions") or 0),
        plate=str(answers.get("plate") or ""),
    )
    return replies


async def _residents(ctx: Context, unit_id: int) -> list[Person]:
    """The unit's bound residents, owners first."""
    rows = await ctx.session.exec(
        select(Person, Binding)
        .join(Binding, col(Binding.person_id) == col(Person.id))
        .where(Binding.unit_id == unit_id)
        .order_by(col(Binding.id))
    )
    found = list(rows.all())
    found.sort(key=lambda pair: pair[1].role != Role.owner)
    return [person for person, _ in found]


async def register(
    ctx: Context,
    unit: Unit,
    *,
    name: str,
    phone: str,
    purpose: str,
    companions: int,
    plate: str,
) -> tuple[Visit, list[Reply]]:
    """Record the walk-in and ask the unit's residents at once (or open the phone task)."""
    assert unit.id is not None
    policy = await visitors.policy_for(ctx, unit.community_id)
    visit = Visit(
        community_id=unit.community_id,
        unit_id=unit.id,
        source="walk_in",
        code=await visitors.unused_code(ctx),
        name=name.strip()[:100],
        phone=phone.strip()[:30],
        plate=plate.strip()[:20],
        purpose=purpose.strip()[:200],
        companions=companions,
        expected_at=ctx.now,
        leaves_by=rules.default_departure(ctx.now),
        status=rules.ASKING,
        registered_by=ctx.actor,
        created_at=ctx.now,
    )
    ctx.session.add(visit)
    await ctx.session.flush()
    chat = [ctx.msg.channel, ctx.msg.chat_id]
    await visitors.remember(ctx, visit, "registered", source="walk_in", chat=chat)
    shown = await visitors.card(ctx, visit)
    asks: list[Reply] = []
    choices = (
        ResidentYes(visit.id or 0).choice("visitor.walkin.yes"),
        ResidentNo(visit.id or 0).choice("visitor.walkin.no"),
    )
    for person in await _residents(ctx, unit.id):
        for recipient in await person_chats(ctx.session, person.id):
            asks.append(
                Reply(
                    "visitor.walkin.ask",
                    shown,
                    choices=choices,
                    to=recipient,
                    urgent=True,
                    card=f"visit:{visit.id}:ask",
                )
            )
    if not asks:
        return visit, await _phone_task(ctx, visit, here=True)
    await jobs.schedule(
        ctx.session,
        kind=CONFIRM,
        due_at=rules.confirm_due(ctx.now, policy),
        payload={"visit": visit.id},
        dedupe_key=f"{CONFIRM}:{visit.id}",
    )
    waiting = Reply("visitor.walkin.asked", {**shown, "minutes": policy.confirm_minutes})
    return visit, [waiting, *asks]


def guard_chat(visit: Visit) -> Recipient | None:
    """The chat the walk-in was registered from, told of the resident's answer."""
    for entry in visit.history:
        if entry.get("what") == "registered" and entry.get("chat"):
            channel, chat_id = entry["chat"]
            return Recipient(str(channel), str(chat_id))
    return None


def _to_guard(ctx: Context, visit: Visit, reply: Reply, here: bool) -> list[Reply]:
    if here:
        return [reply]
    chat = guard_chat(visit)
    if chat is None:
        return []
    if (chat.channel, chat.chat_id) == (ctx.msg.channel, ctx.msg.chat_id):
        return [reply]
    return [
        Reply(reply.key, reply.params, choices=reply.choices, to=chat, urgent=True),
    ]


async def _phone_task(ctx: Context, visit: Visit, here: bool) -> list[Reply]:
    """Nobody answered in chat (or nobody can be asked): the security group phones."""
    residents = await _residents(ctx, visit.unit_id)
    reachable = next((p for p in residents if p.phone), None)
    unit = await ctx.session.get(Unit, visit.unit_id)
    label = unit.label if unit else ""
    description = ctx.catalogs.text(
        ctx.settings.default_locale,
        "visitor.task.description",
        {"name": visit.name, "unit": label, "purpose": visit.purpose or "-", "code": visit.code},
    )
    ticket, cards = await open_task(
        ctx,
        community_id=visit.community_id,
        department=Department.security,
        description=description,
        due_at=ctx.now + PHONE_WITHIN,
        unit_id=visit.unit_id,
        details={"visit": visit.id},
        contact_name=reachable.name if reachable else "",
        contact_phone=reachable.phone or "" if reachable else "",
        urgent=True,
    )
    visit.ticket_id = ticket.id
    await visitors.remember(ctx, visit, "phone_task", ticket=ticket.number)
    shown = {
        **await visitors.card(ctx, visit),
        "number": ticket.number,
        "resident": reachable.name if reachable else Text("visitor.no_host"),
        "resident_phone": reachable.phone if reachable and reachable.phone else "-",
    }
    key = "visitor.walkin.no_resident" if here else "visitor.walkin.no_answer"
    told = Reply(key, shown, choices=buttons(visit, rules.ASKING))
    return [*cards, *_to_guard(ctx, visit, told, here)]


async def no_answer(ctx: Context, job: Job) -> list[Reply]:
    """The job: the resident has not answered in time; the gate phones them."""
    visit = await ctx.session.get(Visit, int(job.payload.get("visit") or 0))
    if visit is None or visit.status != rules.ASKING:
        return []  # answered, or decided at the gate meanwhile
    return await _phone_task(ctx, visit, here=False)


# ---- the resident answers -------------------------------------------------------------------


@dataclass(frozen=True)
class ResidentYes(Action):
    name: ClassVar[str] = "visit_yes"
    private: ClassVar[bool] = True
    visit: int


@dataclass(frozen=True)
class ResidentNo(Action):
    name: ClassVar[str] = "visit_nope"
    private: ClassVar[bool] = True
    visit: int


async def resident_yes(ctx: Context, action: ResidentYes) -> list[Reply]:
    return await _answer(ctx, action.visit, approve=True)


async def resident_no(ctx: Context, action: ResidentNo) -> list[Reply]:
    return await _answer(ctx, action.visit, approve=False)


async def _answer(ctx: Context, visit_id: int, approve: bool) -> list[Reply]:
    """A resident of the unit answers; the first answer decides."""
    visit = await ctx.session.get(Visit, visit_id)
    if visit is None:
        return [Reply("dialog.stale")]
    person = ctx.person
    residents = await _residents(ctx, visit.unit_id)
    if person is None or all(p.id != person.id for p in residents):
        return [Reply("dialog.not_allowed")]
    card = f"visit:{visit.id}:ask"
    if visit.status != rules.ASKING:
        shown = await visitors.card(ctx, visit)
        return [Reply("visitor.walkin.already", shown, card=card)]
    visit.host_id = person.id
    visit.status = rules.EXPECTED if approve else rules.REFUSED
    await visitors.remember(ctx, visit, "resident_approved" if approve else "resident_refused")
    await jobs.cancel(ctx.session, f"{CONFIRM}:{visit.id}")
    shown = await visitors.card(ctx, visit)
    thanks = Reply(
        "visitor.walkin.thanks_yes" if approve else "visitor.walkin.thanks_no", shown, card=card
    )
    if approve:
        told = Reply(
            "visitor.walkin.approved",
            shown,
            choices=(VisitorIn(visit.id or 0).choice("visitor.let_in"),),
        )
    else:
        told = Reply("visitor.walkin.refused", shown)
    return [thanks, *_to_guard(ctx, visit, told, here=False)]
