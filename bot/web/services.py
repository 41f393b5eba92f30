"""Convenience and commissioned services on the desk's pages (`/desk/services`): per
community, the list of services with their prices (added and withdrawn by the service desk
and managers) and the open requests by stage (to agree, awaiting the resident, scheduled,
done and awaiting acceptance, fee to collect, to revisit), with the fee recorded from the
page with its receipt number and method.

Each action calls chat's own use-case (`handlers.services`, `handlers.services_work`) as
the signed-in desk, in one transaction, with chat's checks; what it says to the desk is
shown on the page, what it says to others (the resident thanked, the cards) is sent.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import staff_context
from handlers import services, services_pages, services_work
from handlers.core.ids import row_id
from handlers.core.messages import Reply
from handlers.rules import services as rules
from handlers.rules.ledger import METHODS
from storage.models import Department, ServiceItem

SAID = "services_said"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/services", listing),
        web.post("/services/add", add),
        web.post(r"/services/items/{id:\d+}/withdraw", withdraw),
        web.post(r"/services/requests/{id:\d+}/paid", paid),
    ]


def _field(posted: Any, name: str, limit: int = 100) -> str:
    return str(posted.get(name) or "").strip()[:limit]


def _back(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{desk.prefix_of(request)}/services")


async def listing(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        boards = await services_pages.boards(staff_context(request, session))
    context = desk.context(
        request,
        boards=boards,
        departments=[d.value for d in Department],
        methods=METHODS,
        said=acting.said(request, SAID),
        once=uuid.uuid4().hex,  # each page's forms sent once (a double click is one)
    )
    return aiohttp_jinja2.render_template("services_list.html", request, context)


async def add(request: web.Request) -> web.StreamResponse:
    """A service added to a community's list, as `/services add` adds it."""
    app = desk.app_of(request)
    posted = await request.post()
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        community = row_id(_field(posted, "community", 10))
        department = _field(posted, "department", 16)
        name = _field(posted, "name")
        replies: list[Reply]
        if community is None or services.keeper(ctx, community) is None:
            replies = [Reply("dialog.not_allowed")]
        elif not name or department not in {d.value for d in Department}:
            replies = [Reply("services.add.usage")]
        else:
            try:
                price = rules.fee(_field(posted, "price", 20))
            except rules.Invalid as error:
                replies = [Reply(error.key, error.params)]
            else:
                new = rules.NewItem(
                    name=name,
                    department=department,
                    price=price,
                    per=_field(posted, "per", 20),
                    description=_field(posted, "description", 500),
                )
                item = await services.add_item(ctx, community, new)
                replies = [Reply("services.add.done", {"line": services.item_line(item)})]
        await acting.answered(request, ctx, replies, SAID)
    raise _back(request)


async def withdraw(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        item = await session.get(ServiceItem, int(request.match_info["id"]))
        if item is None or services.keeper(ctx, item.community_id) is None:
            replies = [Reply("dialog.not_allowed")]
        else:
            await services.withdraw_item(ctx, item)
            replies = [Reply("services.withdrawn", {"name": item.name})]
        await acting.answered(request, ctx, replies, SAID)
    raise _back(request)


async def paid(request: web.Request) -> web.StreamResponse:
    """The agreed fee recorded with its receipt, as the card's form and `/servicepaid` do."""
    app = desk.app_of(request)
    posted = await request.post()
    receipt = _field(posted, "receipt", 50)
    method = _field(posted, "method", 16)
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        if not receipt:
            replies = [Reply("ledger.error.receipt")]
        elif method not in METHODS:
            replies = [Reply("ledger.error.method")]
        else:
            replies = await services_work.paid(ctx, int(request.match_info["id"]), receipt, method)
        await acting.answered(request, ctx, replies, SAID)
    raise _back(request)
