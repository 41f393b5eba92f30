"""Patrols of flats in custody (房屋托管): the weekly outside patrol and the heavy-rain rounds.

Each patrol is a `patrol` ticket for the security group with its own card; it is worked as
any task (accept, start) and finished with its checklist (dialogs/custody.py); a problem
found becomes the flat's repair and the owner is told. The desk starts a heavy-rain round
for a community (a patrol before the rain for every flat in custody now) and ends it, or
gives the time, for the patrols after it. The weekly patrol is a job booked from one to the
next while custody lasts; once the agreed end has passed, the desk is asked to end it.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.cards import DONE_FLOW, card_choices, where
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.custody import (
    PATROL_FLOW,
    PATROL_HOURS,
    PROBLEM_CATEGORY,
    RAIN_AFTER_JOB,
    at_local,
    book_patrol,
    custodies_of,
    desk_member,
    local_today,
    policy_for,
    record_history,
    staff_communities,
)
from handlers.directory import department_chats, person_chats
from handlers.rules import custody as rules
from handlers.work_orders import create_work_order, urgency_of
from storage import audit, jobs, keyvalue, tickets
from storage.models import (
    Custody,
    Department,
    Job,
    Person,
    StaffMember,
    Ticket,
    TicketKind,
    Unit,
)

# ---- patrols ----------------------------------------------------------------------------


async def create_patrol(ctx: Context, custody: Custody, round_: str) -> list[Reply]:
    """A patrol ticket for the security group, with its card."""
    from handlers.cardsync import refreshed_cards

    unit = await ctx.session.get(Unit, custody.unit_id)
    assert unit is not None
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=custody.community_id,
        kind=TicketKind.patrol,
        department=Department.security,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        unit_id=unit.id,
        channel="system",
        description=ctx.catalogs.text(ctx.catalogs.default_locale, f"custody.round.{round_}"),
        details={"custody": custody.id, "round": round_},
        due_at=ctx.now + timedelta(hours=PATROL_HOURS[round_]),
    )
    record_history(custody, ctx, "patrol", ticket=ticket.id, round=round_)
    return await refreshed_cards(ctx, ticket)


async def patrol_job(ctx: Context, job: Job) -> list[Reply]:
    """The weekly patrol: made, and the next one booked, while custody lasts."""
    custody = await ctx.session.get(Custody, job.payload.get("custody"))
    if custody is None or custody.status != "active":
        return []
    await book_patrol(ctx, custody, await policy_for(ctx, custody.community_id), job.due_at)
    return [
        *await create_patrol(ctx, custody, rules.WEEKLY),
        *await _agreed_end_passed(ctx, custody),
    ]


async def _agreed_end_passed(ctx: Context, custody: Custody) -> list[Reply]:
    """Once the agreed end has passed and custody still runs, the desk is asked (once) to
    end it with the owner or agree a new end; the patrols go on meanwhile."""
    if custody.ends is None or local_today(ctx) <= custody.ends:
        return []
    since = [e.get("event") for e in custody.history]
    changed = max((i for i, e in enumerate(since) if e == "end_changed"), default=-1)
    if "end_due" in since[changed + 1 :]:
        return []  # asked once since the end was last agreed
    record_history(custody, ctx, "end_due")
    unit = await ctx.session.get(Unit, custody.unit_id)
    assert unit is not None
    choice = Choice(f"flow:custody_end:{custody.id}", "custody.btn.end")
    return [
        Reply(
            "custody.end_due",
            {"unit": unit.label, "ends": custody.ends},
            to=chat,
            choices=(choice,),
        )
        for chat in await department_chats(ctx.session, custody.community_id, Department.service)
    ]


async def patrol_card(ctx: Context, ticket: Ticket) -> list[Reply]:
    """A patrol's card in the security group: the task buttons, "done" asks the checklist."""
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    assignee = (
        await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    )
    done = f"flow:{DONE_FLOW}:{ticket.id}"
    choices = tuple(
        Choice(f"flow:{PATROL_FLOW}:{ticket.id}", c.key) if c.value == done else c
        for c in card_choices(ticket)
    )
    params = {
        "number": ticket.number,
        "where": where(ticket, unit),
        "round": Text(f"custody.round.{ticket.details.get('round', rules.WEEKLY)}"),
        "status": Text(f"status.{ticket.status}"),
        "due": ticket.due_at,
        "assignee": assignee.name if assignee else Text("card.nobody"),
        "checklist": [Text(f"custody.check.{item}") for item in rules.CHECKLIST],
    }
    return [
        Reply("custody.patrol.card", params, to=chat, card=f"ticket:{ticket.id}", choices=choices)
        for chat in await department_chats(ctx.session, ticket.community_id, ticket.department)
    ]


async def finish_patrol(
    ctx: Context, ticket_id: int, checks: dict[str, str], problem: str | None, photos: list[str]
) -> list[Reply]:
    """The patrol done with its checklist; a problem becomes a repair and the owner is told."""
    from handlers import tasks

    bad = [item for item in rules.CHECKLIST if checks.get(item) == "bad"]
    note = problem or ctx.catalogs.text(ctx.catalogs.default_locale, "custody.result.fine")
    ticket = await ctx.session.get(Ticket, ticket_id)
    if ticket is None or ticket.kind != TicketKind.patrol:
        return [Reply("dialog.stale")]
    ticket.details = {**ticket.details, "checklist": checks, "result": "problem" if bad else "fine"}
    replies = await tasks.finish(ctx, ticket_id, note, photos, None)
    if ticket.status != "done":
        return replies  # refused (someone else's, not started): the details stay as they were
    custody = await ctx.session.get(Custody, ticket.details.get("custody"))
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    if custody is None or unit is None:
        return replies
    record_history(custody, ctx, "patrol_done", ticket=ticket.id, bad=bad)
    if not bad:
        return replies
    owner = await ctx.session.get(Person, custody.owner_id) if custody.owner_id else None
    category = next((PROBLEM_CATEGORY[b] for b in bad if b in PROBLEM_CATEGORY), "other")
    text = problem or note
    order = await create_work_order(
        ctx,
        unit=unit,
        category=category,
        description=text,
        name=owner.name if owner else "",
        phone=owner.phone or "" if owner else "",
        details={"photos": photos, "patrol": ticket.number, "time": ""},
        urgency=urgency_of(ctx, category, text),
    )
    if isinstance(order, Reply):
        return [*replies, order]
    repair, pushes = order
    # The owner's repair, told to the owner's chats (not the patrol's group).
    repair.person_id = custody.owner_id
    repair.channel, repair.chat_id = "system", ""
    ctx.session.add(repair)
    record_history(custody, ctx, "problem", ticket=ticket.id, repair=repair.id)
    params = {"unit": unit.label, "problem": text, "number": repair.number, "patrol": ticket.number}
    return [
        *replies,
        Reply("custody.problem.filed", params),
        *pushes,
        *[
            Reply("custody.problem.desk", params, to=chat)
            for chat in await department_chats(
                ctx.session, custody.community_id, Department.service
            )
        ],
        *[
            Reply("custody.problem.owner", params, to=chat)
            for chat in await person_chats(ctx.session, custody.owner_id)
        ],
    ]


# ---- heavy rain ---------------------------------------------------------------------------


def _rain_key(community_id: int) -> str:
    return f"custody_rain:{community_id}"


def _rain_job_key(community_id: int) -> str:
    return f"{RAIN_AFTER_JOB}:{community_id}"


def desk_community(ctx: Context) -> int | None:
    """The community the sender runs the desk of (the first, for a round)."""
    for community_id in staff_communities(ctx):
        if community_id is not None and desk_member(ctx, community_id) is not None:
            return community_id
    return None


async def rain_round(ctx: Context, community_id: int, after: datetime | None) -> list[Reply]:
    """Heavy rain is coming: a before-patrol for every flat in custody now; the after-
    patrols come when the desk says the rain is over, or at `after`."""
    if desk_member(ctx, community_id) is None:
        return [Reply("dialog.not_allowed")]
    if after is not None and after <= ctx.now:
        return [Reply("custody.rain.past")]
    flats = await custodies_of(ctx.session, community_id)
    if not flats:
        return [Reply("custody.list.none")]
    pushes: list[Reply] = []
    for custody, _ in flats:
        pushes += await create_patrol(ctx, custody, rules.RAIN_BEFORE)
    await keyvalue.write(
        ctx.session,
        _rain_key(community_id),
        json.dumps({"started": ctx.now.isoformat(), "by": ctx.actor}),
    )
    if after is not None:
        await jobs.replace(
            ctx.session,
            kind=RAIN_AFTER_JOB,
            due_at=after,
            payload={"community": community_id},
            dedupe_key=_rain_job_key(community_id),
        )
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="custody_rain",
        target=f"community:{community_id}",
        detail={"flats": len(flats), "after": after.isoformat() if after else None},
        now=ctx.now,
    )
    said = Reply(
        "custody.rain.started",
        {"count": len(flats), "after": after if after else Text("custody.rain.when_over")},
    )
    return [said, *pushes]


async def rain_open(session: AsyncSession, community_id: int) -> bool:
    return bool(await keyvalue.read(session, _rain_key(community_id)))


async def rain_over(ctx: Context, community_id: int) -> list[Reply]:
    """The rain is over: an after-patrol for every flat in custody now."""
    if desk_member(ctx, community_id) is None:
        return [Reply("dialog.not_allowed")]
    if not await rain_open(ctx.session, community_id):
        return [Reply("custody.rain.none")]
    await jobs.cancel(ctx.session, _rain_job_key(community_id))
    count = len(await custodies_of(ctx.session, community_id))
    pushes = await _after_patrols(ctx, community_id)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="custody_rain_over",
        target=f"community:{community_id}",
        detail={"flats": count},
        now=ctx.now,
    )
    return [Reply("custody.rain.over", {"count": count}), *pushes]


async def _after_patrols(ctx: Context, community_id: int) -> list[Reply]:
    await keyvalue.write(ctx.session, _rain_key(community_id), "")
    pushes: list[Reply] = []
    for custody, _ in await custodies_of(ctx.session, community_id):
        pushes += await create_patrol(ctx, custody, rules.RAIN_AFTER)
    return pushes


async def rain_after_job(ctx: Context, job: Job) -> list[Reply]:
    community_id = int(job.payload.get("community", 0))
    if not await rain_open(ctx.session, community_id):
        return []  # the desk said it was over already
    return await _after_patrols(ctx, community_id)


async def rain_command(ctx: Context, argument: str) -> list[Reply]:
    """`/rain` (after-patrols when `/rain_over`), or `/rain 明天上午` (after-patrols then)."""
    community_id = desk_community(ctx)
    if community_id is None:
        return [Reply("dialog.not_allowed")]
    after = None
    if argument.strip():
        after = read_after(ctx, argument.strip())
        if after is None:
            return [Reply("custody.rain.unclear", {"text": argument.strip()[:40]})]
    return await rain_round(ctx, community_id, after)


PART_HOURS = {None: 9, "morning": 9, "afternoon": 14, "evening": 18}


def read_after(ctx: Context, text: str) -> datetime | None:
    """When the after-patrols are due, as typed: `明天上午`, `12月8日下午`, `3天后`."""
    from handlers.rules.dates import read_when

    found = read_when(text, local_today(ctx))
    if found is None:
        return None
    return at_local(ctx, found.day, time(PART_HOURS.get(found.part, 9), 0))


async def rain_over_command(ctx: Context, argument: str) -> list[Reply]:
    community_id = desk_community(ctx)
    if community_id is None:
        return [Reply("dialog.not_allowed")]
    return await rain_over(ctx, community_id)
