"""The key register on the desk's pages (`/desk/keys`): the keys of the communities the
signed-in staff may list, filtered by kind and by state (held, out, overdue), a key added,
one key's page with its loans and movements, a key lent (a flat's key with the owner's
consent asked in chat or recorded) and taken back.

Each action calls chat's own use-case (`handlers.keys`, `handlers.key_loans`) as the
signed-in desk, in one transaction, with chat's own checks (the community's service desk
or a manager lends; security staff only list); what it says to the desk is shown on the
page, what it says to others (the owner, asked or told) leaves through `dialogs.sending.send`.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import staff_context
from handlers import key_loans, keys
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Reply
from handlers.rules import keys as rules
from handlers.rules.phone import normalise_phone
from storage.models import OfficeKey

SAID = "keys_said"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/keys", listing),
        web.post("/keys/add", add),
        web.get(r"/keys/{id:\d+}", page),
        web.post(r"/keys/{id:\d+}/lend", lend),
        web.post(r"/keys/loans/{id:\d+}/back", back),
    ]


async def _done(request: web.Request, ctx: Context, replies: list[Reply]) -> None:
    await acting.answered(request, ctx, replies, SAID)


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


def _field(posted: Any, name: str, limit: int = 100) -> str:
    return str(posted.get(name) or "").strip()[:limit]


async def listing(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    kind = request.query.get("kind", "")
    state = request.query.get("state", "")
    kind = kind if kind in rules.KINDS else ""
    state = state if state in keys.STATES else ""
    async with app.db.reading() as session:
        communities = await keys.page_register(staff_context(request, session), kind, state)
    context = desk.context(
        request,
        communities=communities,
        kind=kind,
        state=state,
        kinds=rules.KINDS,
        states=keys.STATES,
        said=_said(request),
    )
    return aiohttp_jinja2.render_template("keys_list.html", request, context)


async def add(request: web.Request) -> web.StreamResponse:
    """A key added from the register's form, as `/keys add` adds it."""
    app = desk.app_of(request)
    posted = await request.post()
    kind = _field(posted, "new_kind", 16)
    new = rules.NewKey(
        label=_field(posted, "label"),
        kind=kind,
        unit=_field(posted, "unit", 50),
        place=_field(posted, "place", 60),
        count=max(1, min(row_id(_field(posted, "count", 2)) or 1, 99)),
    )
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        if not new.label:
            replies = [Reply("keys.error.add_label")]
        elif kind not in rules.KINDS:
            replies = [Reply("keys.error.add_kind")]
        elif kind == "unit" and not new.unit:
            replies = [Reply("keys.error.add_unit")]
        else:
            community = row_id(_field(posted, "community", 10))
            replies = await keys.add_key(ctx, community if kind != "unit" else None, new)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/keys")


async def page(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        shown = await keys.key_page(ctx, int(request.match_info["id"]))
        if shown is None:
            return desk.not_yours(request)
        policy = await keys.policy_for(ctx, shown.entry.key.community_id)
    asked = key_loans.pending_ask(shown.entry.key)
    context = desk.context(
        request,
        shown=shown,
        asked=asked,
        needs_consent=rules.needs_consent(shown.entry.key.kind),
        ways=(rules.CONSENT_CHAT, *rules.RECORDED_CONSENT),
        said=_said(request),
        hours=policy.loan_hours,
        history=[{**e, "at": keys.when_of(e.get("at"))} for e in shown.entry.key.history],
    )
    return aiohttp_jinja2.render_template("keys_page.html", request, context)


def _here(request: web.Request, key_id: int | str) -> str:
    return f"{desk.prefix_of(request)}/keys/{key_id}"


async def lend(request: web.Request) -> web.StreamResponse:
    """A key lent from its page: to a staff member chosen or a person named with a phone;
    a flat's key with the owner asked in chat or their consent recorded with a note."""
    app = desk.app_of(request)
    posted = await request.post()
    key_id = int(request.match_info["id"])
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        replies = await _lend(ctx, key_id, posted)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_here(request, key_id))


async def _lend(ctx: Context, key_id: int, posted: Any) -> list[Reply]:
    key = await ctx.session.get(OfficeKey, key_id)
    if key is None or keys.keeper(ctx, key.community_id) is None:
        return [Reply("dialog.not_allowed")]
    staff_id = row_id(_field(posted, "staff", 10))
    name = _field(posted, "borrower")
    typed_phone = _field(posted, "phone", 30)
    phone = normalise_phone(typed_phone) if typed_phone else ""
    if phone is None:
        return [Reply("dialog.error.phone", {"value": typed_phone})]
    borrower: key_loans.Borrower | None = None
    if staff_id is not None:
        for member in await keys.community_staff(ctx.session, key.community_id):
            if member.id == staff_id:
                borrower = key_loans.Borrower(member.name, staff_id=member.id)
    elif name:
        borrower = await key_loans.borrower_named(ctx, key.community_id, name, phone)
    if borrower is None:
        return [Reply("keys.error.borrower")]
    due_text = _field(posted, "due", 40)
    policy = await keys.policy_for(ctx, key.community_id)
    try:
        due = rules.due_at(due_text, ctx.now, ctx.settings.tz, policy) if due_text else None
    except rules.KeyRuleError as error:
        return [Reply(f"keys.error.{error.reason}", {"text": due_text})]
    request = key_loans.LendRequest(
        key_id=key_id,
        borrower=borrower,
        purpose=_field(posted, "purpose", 200),
        due=due,
        consent=_field(posted, "consent", 16),
        consent_note=_field(posted, "consent_note", 180),
    )
    return await key_loans.lend(ctx, request)


async def back(request: web.Request) -> web.StreamResponse:
    """A loan given back, from the register or the key's page (the loan card's button)."""
    app = desk.app_of(request)
    posted = await request.post()
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        replies = await key_loans.give_back(
            ctx, int(request.match_info["id"]), _field(posted, "brought")
        )
        await _done(request, ctx, replies)
    target = _field(posted, "next", 200)
    prefix = desk.prefix_of(request)
    raise web.HTTPSeeOther(target if target.startswith(f"{prefix}/keys") else f"{prefix}/keys")
