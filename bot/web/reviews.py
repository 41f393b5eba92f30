"""The office looking at itself on the desk's pages: the supervisor's visit plans
(`/desk/visitplans`: the plans with their progress, a plan made from a form, one plan's
visits with their results recorded) and the month-end analysis (`/desk/reviews`: the
reviews, one review with the supervisor's comment, the forward to the director, the
workbook to download).

Each action calls chat's own use-case (`handlers.visit_plans`, `handlers.month_review`) as
the signed-in member, in one transaction, with chat's own checks; the forward is the
chat button's own action handed to the engine (`acting.handled`). What is said to the
desk is shown on the page; what is said to others leaves through `dialogs.sending.send`.
"""

from __future__ import annotations

import asyncio
import uuid

import aiohttp_jinja2
from aiohttp import web

from bot.web import acting, desk
from bot.web.acting import handled, staff_context
from handlers import month_review, month_review_pages, visit_plans
from handlers.core.context import Context
from handlers.core.messages import Reply

SAID = "reviews_said"
PLAN_FIELDS = ("title", "topic", "units", "days", "how", "who")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/visitplans", plan_list),
        web.post("/visitplans", plan_make),
        web.get(r"/visitplans/{id:\d+}", plan_page),
        web.post(r"/visitplans/{id:\d+}/record", plan_record),
        web.get("/reviews", review_list),
        web.get(r"/reviews/{id:\d+}", review_page),
        web.post(r"/reviews/{id:\d+}/comment", review_comment),
        web.post(r"/reviews/{id:\d+}/forward", review_forward),
        web.get(r"/reviews/{id:\d+}/review.xlsx", review_file),
    ]


async def _done(request: web.Request, ctx: Context, replies: list[Reply]) -> None:
    await acting.answered(request, ctx, replies, SAID)


def _said(request: web.Request) -> list[str]:
    return acting.said(request, SAID)


# ---- visit plans ----------------------------------------------------------------------------


async def _plan_list(
    request: web.Request, form: dict[str, str], problems: dict[str, str], status: int = 200
) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        shown = await visit_plans.plans(ctx)
        community = await visit_plans.planning_community(ctx)
        visitors = (
            await visit_plans.visitors(ctx, community.id) if community and community.id else []
        )
    context = desk.context(
        request,
        plans=shown,
        plans_allowed=visit_plans.community_ids(ctx) != set(),
        planner=community,
        visitors=visitors,
        form=form,
        problems=problems,
        said=_said(request),
        hows=visit_plans.HOW,
    )
    return aiohttp_jinja2.render_template("visitplan_list.html", request, context, status=status)


async def plan_list(request: web.Request) -> web.StreamResponse:
    return await _plan_list(request, {}, {})


async def plan_make(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    posted = await request.post()
    form = {name: str(posted.get(name) or "")[:1000] for name in PLAN_FIELDS}
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        problems, replies = await visit_plans.plan_from_form(ctx, form)
        if not problems:
            await _done(request, ctx, replies)
    if problems:
        return await _plan_list(request, form, problems, status=400)
    raise web.HTTPSeeOther(f"{desk.prefix_of(request)}/visitplans")


async def plan_page(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        shown = await visit_plans.plan_view(
            staff_context(request, session), int(request.match_info["id"])
        )
    if shown is None:
        return desk.not_yours(request)
    context = desk.context(
        request,
        shown=shown,
        said=_said(request),
        outcomes=visit_plans.OUTCOMES,
        departments=visit_plans.FOLLOW_UP_DEPARTMENTS,
    )
    return aiohttp_jinja2.render_template("visitplan_page.html", request, context)


async def plan_record(request: web.Request) -> web.StreamResponse:
    """A visit's result, as the card's "record the result" asks it in chat."""
    app = desk.app_of(request)
    posted = await request.post()
    here = f"{desk.prefix_of(request)}/visitplans/{request.match_info['id']}"
    try:
        ticket_id = int(str(posted.get("ticket") or "0"))
    except ValueError:
        raise web.HTTPBadRequest() from None
    outcome = str(posted.get("outcome") or "")
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        if outcome not in visit_plans.OUTCOMES:
            replies = [Reply("dialog.error.choose")]
        else:
            replies = await visit_plans.record_result(
                ctx,
                ticket_id,
                opinions=str(posted.get("opinions") or "").strip()[:1000],
                handling=str(posted.get("handling") or "").strip()[:1000],
                outcome=outcome,
                department=str(posted.get("department") or "") or None,
            )
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(here)


# ---- the month-end analysis -----------------------------------------------------------------


async def review_list(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        shown = await month_review.reviews(ctx)
        allowed = month_review.manages_any(ctx)
    context = desk.context(request, reviews=shown, allowed=allowed, said=_said(request))
    return aiohttp_jinja2.render_template("monthreview_list.html", request, context)


async def review_page(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        shown = await month_review_pages.review_view(
            staff_context(request, session), int(request.match_info["id"])
        )
    if shown is None:
        return desk.not_yours(request)
    forward = month_review.Forward(shown.review.id or 0).value()
    context = desk.context(
        request, shown=shown, said=_said(request), forward=forward, once=uuid.uuid4().hex
    )
    return aiohttp_jinja2.render_template("monthreview_page.html", request, context)


def _review_here(request: web.Request) -> str:
    return f"{desk.prefix_of(request)}/reviews/{request.match_info['id']}"


async def review_comment(request: web.Request) -> web.StreamResponse:
    """The supervisor's comment, as chat's "write a comment" keeps it."""
    app = desk.app_of(request)
    posted = await request.post()
    text = str(posted.get("comment") or "").strip()[:2000]
    async with app.db.transaction() as session:
        ctx = staff_context(request, session)
        if not text:
            replies = [Reply("dialog.error.empty")]
        else:
            replies = await month_review.comment(ctx, int(request.match_info["id"]), text)
        await _done(request, ctx, replies)
    raise web.HTTPSeeOther(_review_here(request))


async def review_forward(request: web.Request) -> web.StreamResponse:
    """Forward to the director: the chat button's own action, handed to the engine."""
    posted = await request.post()
    value = month_review.Forward(int(request.match_info["id"])).value()
    once = str(posted.get("once") or uuid.uuid4().hex)[:40]
    answers = await handled(request, once, option=value)
    desk.desk_of(request).session[SAID] = [row.payload.get("text", "") for row in answers]
    raise web.HTTPSeeOther(_review_here(request))


async def review_file(request: web.Request) -> web.StreamResponse:
    app = desk.app_of(request)
    async with app.db.reading() as session:
        ctx = staff_context(request, session)
        shown = await month_review_pages.review_view(ctx, int(request.match_info["id"]))
        if shown is None:
            return desk.not_yours(request)
        body = await asyncio.to_thread(month_review_pages.review_xlsx, shown, ctx)
    name = f"month-review-{shown.community.code}-{shown.review.month}.xlsx"
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
