"""Convenience and commissioned services (便民服务 / 委托服务) in chat.

A resident's `/service` (or the menu's 便民服务): the unit, the item from the office's list
with its price (or "other" in their own words), when, what they want done. The service
desk's `/services` (the list; `/services add 名称 部门 价格 [单位] [说明]`, `/services del 名称`),
the card's "agree the details" form (item, area or quantity, time, fee, expected result)
and "fee collected" form (receipt number, method), `/servicepaid W-… 收据号 方式`; the
resident's 确认 / 不同意 buttons (handlers/services.py, handlers/services_work.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text, chosen
from handlers import ledger_entries, services, services_work
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Money, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.rules import services as rules
from handlers.rules.ledger import METHODS
from storage.models import Department

# ---- a resident's request -----------------------------------------------------------------


async def unit_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    from handlers import fees

    return [
        Choice(f"unit:{unit.id}", "slip.unit.option", {"unit": unit.label})
        for unit in await fees.units_for(ctx)
    ]


def _other(answers: Answers) -> bool:
    return answers.get("item") == f"item:{services.OTHER}"


REQUEST = Flow(
    name="service",
    title="services.title",
    steps=(
        Step("unit", "services.unit.prompt", parse=chosen, choices=unit_choices),
        Step("item", "services.item.prompt", parse=chosen, choices=services.item_choices),
        Step("other", "services.other.prompt", parse=parsers.short_text, when=_other),
        Step("time", "services.time.prompt", parse=parsers.short_text),
        Step("what", "services.what.prompt", parse=parsers.description, optional=True),
    ),
    summary="services.summary",
    summarize=services.summarize,
    finish=services.submit,
    start=services.begin,
)

# ---- the desk agrees the details ----------------------------------------------------------


async def _agree_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    ticket = await services_work.desk_ticket(
        ctx, row_id(initial or ""), rules.AGREE, rules.AWAITING
    )
    if isinstance(ticket, list):
        return ticket
    service = services.service_of(ticket)
    return {
        "_ticket": ticket.id,
        "_number": ticket.number,
        "_community": ticket.community_id,
        "_name": service.get("name", ""),
        "_department": service.get("department", ""),
        "_price": service.get("price", ""),
    }


async def agree_item_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    items = await services.items_of(ctx.session, answers["_community"])
    return [
        Choice("item:keep", "services.agree.keep", {"name": answers["_name"]}),
        *(
            Choice(f"item:{i.id}", "services.item.option", {"line": services.item_line(i)})
            for i in items
        ),
    ]


async def agree_item(answer: Answer, ctx: Context, answers: Answers) -> dict[str, Any]:
    """The item as agreed: the one asked for, another of the list, or typed."""
    if answer.option == "item:keep":
        name, department, price = answers["_name"], answers["_department"], answers["_price"]
    elif answer.option:
        item = await services.chosen_item(ctx, answers["_community"], answer.option)
        if item is None:
            raise InputError("dialog.error.choose")
        name, department, price = item.name, item.department, str(item.price)
    else:
        name, department, price = bounded_text(answer, 100), "", ""
    return {"name": name, "department": department, "price": price}


def _no_department(answers: Answers) -> bool:
    return "item" in answers and not answers["item"]["department"]


def fee_answer(answer: Answer, ctx: Context, answers: Answers) -> str:
    try:
        return str(rules.fee(bounded_text(answer, 20)))
    except rules.Invalid as error:
        raise InputError(error.key, **error.params) from None


async def fee_params(ctx: Context, answers: Answers) -> dict[str, Any]:
    price = answers["item"]["price"]
    listed = Text("services.agree.listed", {"price": Money(rules.fee(price))}) if price else ""
    return {"listed": listed}


async def _agree_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "number": answers["_number"],
        "agreed": services.agreed_text({"agreed": _agreed(answers)}),
    }


def _agreed(answers: Answers) -> dict[str, Any]:
    item = answers["item"]
    return {
        "item": item["name"],
        "department": item["department"] or answers.get("department", Department.service),
        "quantity": answers["quantity"],
        "time": answers["time"],
        "fee": answers["fee"],
        "result": answers["result"],
    }


async def _agree_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await services_work.agree(ctx, answers["_ticket"], _agreed(answers))


AGREE = Flow(
    name="service_agree",
    title="services.agree.title",
    steps=(
        Step("item", "services.agree.item", parse=agree_item, choices=agree_item_choices),
        Step(
            "department",
            "services.agree.department",
            parse=lambda a, c, s: chosen(a, c, s).removeprefix("dep:"),
            choices=tuple(Choice(f"dep:{d.value}", f"department.{d.value}") for d in Department),
            when=_no_department,
        ),
        Step("quantity", "services.agree.quantity", parse=parsers.short_text),
        Step("time", "services.agree.time", parse=parsers.short_text),
        Step("fee", "services.agree.fee", parse=fee_answer, prompt_params=fee_params, numeric=True),
        Step("result", "services.agree.result", parse=parsers.short_text),
    ),
    summary="services.agree.summary",
    summarize=_agree_summary,
    finish=_agree_finish,
    start=_agree_start,
    in_menu=False,
    in_groups=True,
)

# ---- the fee collected --------------------------------------------------------------------


async def _paid_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    ticket = await services_work.desk_ticket(ctx, row_id(initial or ""), rules.COLLECT)
    if isinstance(ticket, list):
        return ticket
    return {
        "_ticket": ticket.id,
        "_number": ticket.number,
        "_community": ticket.community_id,
        "_fee": services.service_of(ticket)["agreed"]["fee"],
    }


async def receipt_answer(answer: Answer, ctx: Context, answers: Answers) -> str:
    receipt = bounded_text(answer, 50)
    if await ledger_entries.receipt_taken(ctx.session, answers["_community"], receipt):
        raise InputError("services.error.receipt_used", receipt=receipt)
    return receipt


async def _paid_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "number": answers["_number"],
        "fee": Money(rules.fee(answers["_fee"])),
        "receipt": answers["receipt"],
        "method": Text(f"services.method.{answers['method'].removeprefix('method:')}"),
    }


async def _paid_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    method = answers["method"].removeprefix("method:")
    return await services_work.paid(ctx, answers["_ticket"], answers["receipt"], method)


PAID = Flow(
    name="service_paid",
    title="services.paid.title",
    steps=(
        Step("receipt", "services.paid.receipt", parse=receipt_answer),
        Step(
            "method",
            "services.paid.method",
            parse=chosen,
            choices=tuple(Choice(f"method:{m}", f"services.method.{m}") for m in METHODS),
        ),
    ),
    summary="services.paid.summary",
    summarize=_paid_summary,
    finish=_paid_finish,
    start=_paid_start,
    in_menu=False,
    in_groups=True,
)


FEATURE = Feature(
    name="services",
    flows=[REQUEST, AGREE, PAID],
    commands=[
        Command("services", services.services_command, roles=STAFF_ROLES),
        Command("servicepaid", services_work.paid_command, roles=STAFF_ROLES),
    ],
    actions={
        services_work.Confirm: services_work.confirm,
        services_work.Disagree: services_work.disagree,
    },
    for_staff=[
        StaffEntry(STAFF_ROLES, "services.help.list"),
        StaffEntry(STAFF_ROLES, "services.help.paid"),
    ],
)
