"""Convenience and commissioned services (便民服务 / 委托服务): the office's list and a
resident's request.

The office publishes its list per community (`ServiceItem`: name, department, price and
what it is for); the service desk and managers keep it (`/services add …`, the desk's
page). A bound resident asks with `/service` or the menu: the item (or "other" in their
own words), the unit, when, what they want done. The request is a `service` ticket (W-…)
for the service desk, whose card leads through the rest (handlers/services_work.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import fees
from handlers.cards import card_choices, where
from handlers.core.context import Context
from handlers.core.messages import Choice, Money, Recipient, Reply, Text
from handlers.directory import department_chats
from handlers.keys import communities_where
from handlers.rules import services as rules
from handlers.rules.phone import mask_phone
from handlers.staffauth import acting_member
from storage import audit, tickets
from storage.models import (
    Community,
    Department,
    ServiceItem,
    StaffMember,
    Ticket,
    TicketKind,
    Unit,
)

OTHER = "other"


def keeper(ctx: Context, community_id: int) -> StaffMember | None:
    """Who keeps the list and agrees the details: the service desk, or a manager."""
    return acting_member(ctx, community_id, Department.service)


async def kept(ctx: Context) -> list[Community]:
    return await communities_where(ctx, keeper)


async def items_of(
    session: AsyncSession, community_id: int, everything: bool = False
) -> list[ServiceItem]:
    """The community's list, in its order; the withdrawn ones only when asked."""
    query = select(ServiceItem).where(ServiceItem.community_id == community_id)
    if not everything:
        query = query.where(col(ServiceItem.active).is_(True))
    found = await session.exec(query.order_by(col(ServiceItem.sort), col(ServiceItem.id)))
    return list(found.all())


def item_line(item: ServiceItem) -> Text:
    return Text(
        "services.item.line",
        {
            "name": item.name,
            "price": Money(item.price),
            "per": Text("services.per", {"per": item.per}) if item.per else "",
            "department": Text(f"department.{item.department}"),
            "description": Text("services.item.about", {"text": item.description})
            if item.description
            else "",
        },
    )


def department_names(ctx: Context) -> dict[str, str]:
    """Every spelling of each department (`维修`, `repair`, …) to its name."""
    names: dict[str, str] = {}
    for department in Department:
        for word in ctx.catalogs.words(f"services.words.department.{department.value}"):
            names[word] = department.value
        names[department.value] = department.value
    return names


async def add_item(
    ctx: Context, community_id: int, item: rules.NewItem, sort: int | None = None
) -> ServiceItem:
    """One more service on the list (or the withdrawn one of that name back, as given)."""
    same = (
        await ctx.session.exec(
            select(ServiceItem).where(
                ServiceItem.community_id == community_id, ServiceItem.name == item.name
            )
        )
    ).first()
    row = same or ServiceItem(
        community_id=community_id, name=item.name, department="", price=item.price
    )
    row.department, row.price, row.per = item.department, item.price, item.per
    row.description, row.active = item.description, True
    if same is None:
        row.sort = (
            sort if sort is not None else len(await items_of(ctx.session, community_id, True))
        )
    ctx.session.add(row)
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="service_item",
        target=f"service:{row.id}",
        detail={"name": row.name, "price": str(row.price), "department": row.department},
        now=ctx.now,
    )
    return row


async def withdraw_item(ctx: Context, item: ServiceItem) -> None:
    """Off the list for new requests; requests already made keep what they named."""
    item.active = False
    ctx.session.add(item)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="service_item_withdrawn",
        target=f"service:{item.id}",
        now=ctx.now,
    )


async def services_command(ctx: Context, argument: str) -> list[Reply]:
    """`/services`: the list; `/services add 名称 部门 价格 [单位] [说明]`; `/services del 名称`."""
    communities = await kept(ctx)
    if not communities or communities[0].id is None:
        return [Reply("dialog.not_allowed")]
    community_id = communities[0].id
    verb, _, rest = argument.strip().partition(" ")
    if verb.lower() in ctx.catalogs.words("services.words.add"):
        try:
            new = rules.parse_item(rest.strip(), department_names(ctx))
        except rules.Invalid as error:
            return [Reply(error.key, error.params)]
        item = await add_item(ctx, community_id, new)
        return [Reply("services.add.done", {"line": item_line(item)})]
    if verb.lower() in ctx.catalogs.words("services.words.withdraw"):
        name = rest.strip()
        found = next((i for i in await items_of(ctx.session, community_id) if i.name == name), None)
        if found is None:
            return [Reply("services.error.no_item", {"name": name})]
        await withdraw_item(ctx, found)
        return [Reply("services.withdrawn", {"name": found.name})]
    return [await listing(ctx, community_id)]


async def listing(ctx: Context, community_id: int) -> Reply:
    items = await items_of(ctx.session, community_id)
    if not items:
        return Reply("services.list.empty")
    return Reply("services.list", {"lines": [item_line(i) for i in items]})


# ---- a resident's request -----------------------------------------------------------------


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """Bound residents only; a sole unit is taken at once."""
    return await fees.begin_with_unit(ctx, None, {})


async def unit_community(ctx: Context, answers: Mapping[str, Any]) -> int | None:
    unit = await fees.chosen_unit(ctx, answers)
    return unit.community_id if unit else None


async def item_choices(ctx: Context, answers: Mapping[str, Any]) -> Sequence[Choice]:
    community_id = await unit_community(ctx, answers)
    items = await items_of(ctx.session, community_id) if community_id else []
    return [
        *(Choice(f"item:{i.id}", "services.item.option", {"line": item_line(i)}) for i in items),
        Choice(f"item:{OTHER}", "services.item.other"),
    ]


async def chosen_item(ctx: Context, community_id: int, value: str) -> ServiceItem | None:
    ref = value.removeprefix("item:")
    if not ref.isdigit():
        return None
    item = await ctx.session.get(ServiceItem, int(ref))
    if item is None or item.community_id != community_id or not item.active:
        return None
    return item


async def summarize(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    unit = await fees.chosen_unit(ctx, answers)
    item = await chosen_item(ctx, unit.community_id, answers["item"]) if unit else None
    return {
        "unit": unit.label if unit else "",
        "item": item_line(item) if item else answers.get("other") or "",
        "time": answers["time"],
        "what": answers.get("what") or "—",
    }


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """The request as a W- ticket for the service desk, who agree the details next."""
    unit = await fees.chosen_unit(ctx, answers)
    person = ctx.person
    if unit is None or person is None:
        return [Reply("fee.not_your_unit")]
    item = await chosen_item(ctx, unit.community_id, answers["item"])
    name = item.name if item else str(answers.get("other") or "")
    service: dict[str, Any] = {"item": item.id if item else None, "name": name}
    if item is not None:
        service |= {"price": str(item.price), "per": item.per, "department": item.department}
    what = str(answers.get("what") or "")
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=unit.community_id,
        kind=TicketKind.service,
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
        description=f"{name}：{what}"[:2000] if what else name[:2000],
        details={"time": answers["time"], "service": service},
    )
    return [
        Reply("services.asked", {"number": ticket.number, "item": name}),
        *await card(ctx, ticket),
    ]


# ---- the card -----------------------------------------------------------------------------


def service_of(ticket: Ticket) -> dict[str, Any]:
    return dict(ticket.details.get("service") or {})


def stage_of(ticket: Ticket) -> str:
    return rules.stage(ticket.status, service_of(ticket))


def agreed_text(service: Mapping[str, Any]) -> Any:
    agreed = service.get("agreed")
    if not agreed:
        return Text("services.not_agreed")
    return Text(
        "services.agreed.line",
        {
            "item": agreed["item"],
            "quantity": agreed["quantity"],
            "time": agreed["time"],
            "fee": Money(rules.fee(agreed["fee"])),
            "result": agreed["result"],
            "department": Text(f"department.{agreed['department']}"),
        },
    )


async def card_params(ctx: Context, ticket: Ticket) -> dict[str, Any]:
    service = service_of(ticket)
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    assignee = (
        await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    )
    return {
        "number": ticket.number,
        "stage": Text(f"services.stage.{stage_of(ticket)}"),
        "where": where(ticket, unit),
        "name": ticket.contact_name,
        "phone": mask_phone(ticket.contact_phone),
        "item": service.get("name", ""),
        "description": ticket.description,
        "time": ticket.details.get("time", ""),
        "agreed": agreed_text(service),
        "assignee": assignee.name if assignee else Text("card.nobody"),
    }


def desk_choices(ticket: Ticket) -> tuple[Choice, ...]:
    """The service desk's buttons at each stage (each checked again when pressed)."""
    ref = ticket.id or 0
    stage = stage_of(ticket)
    if stage in (rules.AGREE, rules.AWAITING):
        return (Choice(f"flow:service_agree:{ref}", "services.btn.agree"),)
    if stage == rules.COLLECT:
        return (Choice(f"flow:service_paid:{ref}", "services.btn.paid"),)
    return ()


async def card(ctx: Context, ticket: Ticket) -> list[Reply]:
    """The request's card: in the service desk's chats while it is agreed and paid, and,
    once the resident confirmed, in the department's with the task buttons."""
    params = await card_params(ctx, ticket)
    desk = await department_chats(ctx.session, ticket.community_id, Department.service)
    working: list[Recipient] = []
    if service_of(ticket).get("confirmed_at"):
        working = await department_chats(ctx.session, ticket.community_id, ticket.department)
    chats = [*desk, *(c for c in working if c not in desk)]
    return [
        Reply(
            "services.card",
            params,
            to=chat,
            card=f"ticket:{ticket.id}",
            choices=(desk_choices(ticket) if chat in desk else ())
            + (card_choices(ticket) if chat in working else ()),
        )
        for chat in chats
    ]
