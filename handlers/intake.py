"""The desk files a request for a caller or a visitor (来电 / 来访 / 来信): a repair, a
complaint or a question for a unit, recorded with how it came in, under the same rules,
numbers and pushes as one filed in chat.

The form is checked first (`check`): every problem is named by its field, and nothing is
filed until all are right. A resident of the unit who gave the caller's phone number is
the ticket's resident, so they are told in chat, and every later message about the ticket
reaches them there; a caller the store does not know is reached by phone, by the desk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from handlers import complaint, fees, question
from handlers.core.context import Context
from handlers.core.messages import Incoming, Reply, Text
from handlers.directory import OFFLINE, closest_units, person_chats, unit_by_label
from handlers.rules.phone import normalise_phone
from handlers.rules.warranty import CATEGORIES
from handlers.staffauth import acting_member
from handlers.work_orders import create_work_order, urgency_of
from storage.models import Binding, ChatIdentity, Community, Person, Ticket, Unit

VIA = OFFLINE  # how the request came in: 来电, 来访, 来信
KINDS = ("repair", "complaint", "fee", "question")  # fee: a bill disputed (物业费异议)
DESCRIPTION_MAX = 2000


@dataclass
class Form:
    """What the desk typed, as typed (a refused form is shown again with it)."""

    community: str = ""
    unit: str = ""
    kind: str = "repair"
    category: str = ""
    description: str = ""
    name: str = ""
    phone: str = ""
    via: str = "phone"

    @classmethod
    def of(cls, posted: Any) -> Form:
        def word(name: str, size: int = 100) -> str:
            return str(posted.get(name) or "").strip()[:size]

        return cls(
            community=word("community", 20),
            unit=word("unit", 60),
            kind=word("kind", 16),
            category=word("category", 20),
            description=word("description", DESCRIPTION_MAX),
            name=word("name"),
            phone=word("phone", 30),
            via=word("via", 16),
        )


@dataclass
class Checked:
    """A form that can be filed, or the problems (field → catalog key with parameters)."""

    problems: dict[str, Text] = field(default_factory=dict)
    community: Community | None = None
    unit: Unit | None = None
    phone: str = ""
    caller: Person | None = None


async def communities_of(ctx: Context) -> list[Community]:
    """The communities the desk may file for, by the shared rule: staff records there."""
    found = await ctx.session.exec(select(Community).order_by(col(Community.code)))
    return [c for c in found.all() if c.id is not None and acting_member(ctx, c.id) is not None]


async def check(ctx: Context, form: Form) -> Checked:
    checked = Checked()
    problems = checked.problems
    mine = await communities_of(ctx)
    if len(mine) == 1 and not form.community:
        checked.community = mine[0]
    else:
        checked.community = next((c for c in mine if c.code == form.community.upper()), None)
        if checked.community is None:
            problems["community"] = Text("intake.problem.community")
    if form.kind not in KINDS:
        problems["kind"] = Text("intake.problem.kind")
    if form.kind == "repair" and form.category not in CATEGORIES:
        problems["category"] = Text("intake.problem.category")
    if form.via not in VIA:
        problems["via"] = Text("intake.problem.via")
    if not form.description:
        problems["description"] = Text("intake.problem.description")
    if not form.name:
        problems["name"] = Text("intake.problem.name")
    phone = normalise_phone(form.phone) if form.phone else None
    if form.phone and phone is None:
        problems["phone"] = Text("intake.problem.phone")
    checked.phone = phone or ""
    if form.unit and checked.community is not None:
        checked.unit = await unit_by_label(ctx.session, checked.community.id, form.unit)
        if checked.unit is None:
            near = await closest_units(ctx.session, checked.community.id, form.unit, limit=3)
            problems["unit"] = Text(
                "intake.problem.unit_near" if near else "intake.problem.unit",
                {"near": "、".join(unit.label for unit in near)},
            )
    elif form.kind in ("repair", "fee") and checked.community is not None and not form.unit:
        problems["unit"] = Text("intake.problem.unit_missing")
    if checked.unit is not None and checked.phone:
        checked.caller = await _resident(ctx, checked.unit, checked.phone)
    return checked


async def _resident(ctx: Context, unit: Unit, phone: str) -> Person | None:
    """The unit's bound resident with this phone number, if there is one."""
    found = await ctx.session.exec(
        select(Person)
        .join(Binding, col(Binding.person_id) == col(Person.id))
        .where(Binding.unit_id == unit.id, Person.phone == phone)
    )
    return found.first()


async def file(ctx: Context, form: Form, checked: Checked) -> tuple[Ticket | None, list[Reply]]:
    """File the checked form as the desk; the ticket and what goes out (cards, the resident
    told in chat). `ctx` is the desk's; the request is filed as from the caller."""
    assert not checked.problems and checked.community is not None
    caller = _as_caller(ctx, form, checked)
    if form.kind == "repair":
        order = await create_work_order(
            caller,
            unit=checked.unit,
            category=form.category,
            description=form.description,
            name=form.name,
            phone=checked.phone,
            details={"time": "", "via": form.via, "filed_by": ctx.actor},
            urgency=urgency_of(caller, form.category, form.description),
        )
        if isinstance(order, Reply):
            return None, [order]
        ticket, replies = order
    else:
        replies = await _by_flow(caller, form, checked)
        filed = await _filed(ctx, checked.community, replies)
        if filed is None:  # refused by the flow's own rules: what it said
            return None, [r for r in replies if r.to is None]
        ticket = filed
        ticket.details = {**ticket.details, "via": form.via, "filed_by": ctx.actor}
    # What the flow would have said to the requester goes to them in chat, if they have one.
    chats = await person_chats(ctx.session, checked.caller.id) if checked.caller else []
    for_caller = [
        Reply(reply.key, reply.params, to=chat)
        for reply in replies
        if reply.to is None
        for chat in chats
    ]
    if not for_caller:  # a repair: the flow's own answer is the summary the desk read out
        said = {
            "via": Text(f"intake.via.{form.via}"),
            "number": ticket.number,
            "description": ticket.description,
        }
        for_caller = [Reply("intake.told", said, to=chat) for chat in chats]
    return ticket, [*(r for r in replies if r.to is not None), *for_caller]


def _as_caller(ctx: Context, form: Form, checked: Checked) -> Context:
    """The desk's context, filing as the caller: the channel is how it came in, the person
    the resident who called (if known), the staff records still the desk's."""
    msg = Incoming(
        channel=form.via,
        chat_id="",
        user_id=ctx.msg.user_id,
        at=ctx.now,
        text=form.description,
        user_name=form.name,
    )
    identity = ChatIdentity(channel=form.via, external_user_id=ctx.msg.user_id)
    return Context(
        session=ctx.session,
        settings=ctx.settings,
        catalogs=ctx.catalogs,
        clock=ctx.clock,
        msg=msg,
        identity=identity,
        locale=ctx.locale,
        person=checked.caller,
        staff=ctx.staff,
    )


async def _by_flow(caller: Context, form: Form, checked: Checked) -> list[Reply]:
    """A complaint or a question, through the flow's own submit, as its answers."""
    where = f"unit:{checked.unit.id}" if checked.unit is not None else form.unit
    if form.kind == "complaint":
        if checked.caller is None and checked.unit is not None:
            where = checked.unit.label  # not the caller's own unit: kept as the place
        answers: dict[str, Any] = {
            "what": form.description,
            "where": where,
            "who": "",
            "want": "",
            "when": "",
            "name": form.name,
            "phone": checked.phone,
            "photos": [],
        }
        return await complaint.submit(caller, answers)
    if form.kind == "fee" and checked.unit is not None:
        # A disputed bill: the arrears reminders wait while the desk looks into it.
        return await fees.open_request(
            caller, checked.unit, fees.DISPUTE, form.description, form.name, checked.phone
        )
    return await question.submit(caller, {"question": form.description})


async def _filed(ctx: Context, community: Community, replies: list[Reply]) -> Ticket | None:
    """The ticket a flow's submit filed: the number its answer to the requester names."""
    for reply in replies:
        number = reply.params.get("number") if reply.to is None else None
        if isinstance(number, str):
            found = await ctx.session.exec(
                select(Ticket).where(Ticket.community_id == community.id, Ticket.number == number)
            )
            return found.first()
    return None
