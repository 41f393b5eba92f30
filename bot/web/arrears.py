"""Arrears casework on the desk's pages (`/desk/arrears`): the open cases of the communities
the signed-in staff work, with their step, what is owed, the last contact and the promise
due (marked once its day has passed); one case's page with what is owed by month, the
ladder's history, every contact, the contact form (the collection script) and the legal
file to download.

A contact recorded here goes through chat's own use-case (`handlers.arrears_work_contacts.
record_contact`) as the signed-in desk, in one transaction, with chat's own checks; what it
says to others (a dispute's card for the desk's group) leaves through `dialogs.sending.send`.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import staff_context
from handlers import arrears_work
from handlers.arrears_work_contacts import Contact, record_contact
from handlers.arrears_work_pages import case_page, page_cases
from handlers.core.context import Context
from handlers.core.messages import Reply
from handlers.fees import local_today
from handlers.rules import arrears_work as rules
from handlers.rules.dates import read_day
from handlers.rules.money import AmountError, read_amount

SAID = "arrears_said"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/arrears", listing),
        web.get(r"/arrears/{id:\d+}", page),
        web.post(r"/arrears/{id:\d+}/contact", contact),
        web.get(r"/arrears/{id:\d+}/legal.xlsx", legal_file),
        web.get(r"/arrears/{id:\d+}/print", print_sheet),
    ]


async def _done(request: web.Request, ctx: Context, replies: list[Reply]) -> None:
    await acting.answered(request, ctx, replies, SAID)


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


async def listing(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        groups = await page_cases(staff_context(request, session))
    context = desk.context(request, groups=groups, said=_said(request))
    return aiohttp_jinja2.render_template("arrears_list.html", request, context)


async def page(request: web.Request) -> web.StreamResponse:
    return await _case(request, "arrears_page.html")


async def print_sheet(request: web.Request) -> web.StreamResponse:
    """The case on one A4 sheet, for the director's file."""
    return await _case(request, "arrears_print.html")


async def _case(request: web.Request, template: str) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        found = await case_page(ctx, int(request.match_info["id"]))
        if found is None:
            return desk.not_yours(request)
        history = [arrears_work.history_text(h) for h in found.case.history]
        contacts = [arrears_work.contact_text(c) for c in found.contacts]
    context = desk.context(
        request,
        found=found,
        history=history,
        contacts=contacts,
        methods=rules.METHODS,
        reasons=rules.REASONS,
        said=_said(request),
    )
    return aiohttp_jinja2.render_template(template, request, context)


def _field(posted: Any, name: str, limit: int = 100) -> str:
    return str(posted.get(name) or "").strip()[:limit]


async def contact(request: web.Request) -> web.StreamResponse:
    """A contact recorded from the case's form, as chat's flow records it."""
    app = desk.app_of(request)
    posted = await request.post()
    case_id = int(request.match_info["id"])
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        replies = await _record(ctx, case_id, posted)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/arrears/{case_id}")


async def _record(ctx: Context, case_id: int, posted: Any) -> list[Reply]:
    reached = _field(posted, "reached", 4) == "yes"
    typed_day = _field(posted, "promised_on", 40)
    typed_amount = _field(posted, "promised_amount", 20)
    day = read_day(typed_day, local_today(ctx)) if typed_day else None
    if typed_day and day is None:
        return [Reply("arrears_work.error.day", {"within": rules.PROMISE_WITHIN_DAYS})]
    amount: Decimal | None = None
    if typed_amount:
        try:
            amount = read_amount(typed_amount)
        except AmountError:
            return [Reply("arrears_work.error.amount")]
    reason = _field(posted, "reason", 16)
    if reached and not reason:
        return [Reply("arrears_work.error.reason")]
    keeps_promise = reached and reason != rules.DISPUTE
    return await record_contact(
        ctx,
        case_id,
        Contact(
            method=_field(posted, "method", 16),
            reached=reached,
            reason=reason if reached else "",
            outcome=_field(posted, "outcome", 1000),
            promised_on=day if keeps_promise else None,
            promised_amount=amount if keeps_promise and day else None,
        ),
    )


async def legal_file(request: web.Request) -> web.StreamResponse:
    """The case's prepared legal file, for those who work the case only."""
    app = desk.app_of(request)
    async with app.db.reading() as session:
        found = await case_page(staff_context(request, session), int(request.match_info["id"]))
    if found is None or not found.case.legal_file:
        raise web.HTTPNotFound()
    path = Path(found.case.legal_file)
    if not await asyncio.to_thread(path.is_file):
        raise web.HTTPNotFound()
    return web.FileResponse(
        path,
        headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
    )
