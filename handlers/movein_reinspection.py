"""The re-inspection of a move-in's reworked defects: the time agreed with the owner,
reminded an hour before (a job), and recorded once every defect is fixed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.core.context import Context
from handlers.core.messages import Reply, Text
from handlers.directory import department_chats
from handlers.fees import local_today
from handlers.movein import ask_sign_off
from handlers.movein_actions import (
    Reinspected,
)
from handlers.movein_inspection import inspection_of
from handlers.movein_record import (
    OPEN,
    audited,
    defects,
    mark,
    tell_owner,
)
from handlers.rules import movein as rules
from storage import jobs
from storage.models import (
    Department,
    Job,
    MoveIn,
    Unit,
)

REINSPECT_JOB = "movein_reinspect"

REMIND_BEFORE = timedelta(hours=1)  # the re-inspection's reminder, before the agreed time


async def agree_reinspection(ctx: Context, move_in: MoveIn, when: datetime) -> list[Reply]:
    """The time agreed with the owner: recorded, told to the owner and the repair group,
    and reminded an hour before (a job, so it survives restarts)."""
    move_in.reinspect_at = when
    move_in.history = [
        *move_in.history,
        {"at": ctx.now.isoformat(), "by": ctx.actor, "what": "reinspect", "when": when.isoformat()},
    ]
    ctx.session.add(move_in)
    await jobs.replace(
        ctx.session,
        kind=REINSPECT_JOB,
        due_at=max(ctx.now, when - REMIND_BEFORE),
        payload={"move_in": move_in.id, "when": when.isoformat()},
        dedupe_key=f"{REINSPECT_JOB}:{move_in.id}",
    )
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    params = {"unit": unit.label, "when": when}
    group = [
        Reply("movein.reinspect.booked", params, to=chat)
        for chat in await department_chats(ctx.session, move_in.community_id, Department.repair)
    ]
    return [
        Reply("movein.reinspect.agreed", params),
        *group,
        *await tell_owner(ctx.session, move_in, "movein.owner.reinspect", params),
    ]


async def remind_reinspection(ctx: Context, job: Job) -> list[Reply]:
    """Due: remind the owner and the repair group of the re-inspection."""
    move_in = await ctx.session.get(MoveIn, int(job.payload["move_in"]))
    if move_in is None or move_in.status != OPEN or move_in.reinspect_at is None:
        return []
    if move_in.reinspect_at.isoformat() != job.payload.get("when"):
        return []  # moved since: its own job reminds
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    params = {"unit": unit.label, "when": move_in.reinspect_at}
    group = [
        Reply(
            "movein.reinspect.reminder",
            params,
            to=chat,
            choices=(Reinspected(move_in.id or 0).choice("movein.btn.reinspected"),),
        )
        for chat in await department_chats(ctx.session, move_in.community_id, Department.repair)
    ]
    return [*group, *await tell_owner(ctx.session, move_in, "movein.owner.reminder", params)]


async def reinspected(ctx: Context, action: Reinspected) -> list[Reply]:
    found = await inspection_of(ctx, action.move_in)
    if isinstance(found, Reply):
        return [found]
    move_in, _ = found
    still = [t.number for t in await defects(ctx.session, move_in) if t.status not in rules.FIXED]
    if still:
        return [Reply("movein.reinspect.open", {"numbers": ", ".join(still)})]
    mark(move_in, "reinspected", ctx.actor, ctx.now)
    ctx.session.add(move_in)
    await audited(ctx, move_in, "reinspected")
    unit = await ctx.session.get(Unit, move_in.unit_id)
    assert unit is not None
    return [
        Reply("movein.reinspect.done", {"unit": unit.label}),
        *await ask_sign_off(ctx, move_in),
    ]


def as_utc(ctx: Context, when: rules.Appointment) -> datetime:
    return datetime.combine(when.day, when.at, tzinfo=ctx.settings.tz).astimezone(UTC)


def read_reinspection(ctx: Context, text: str) -> datetime | Text:
    found = rules.parse_appointment(text[:50], local_today(ctx))
    when = as_utc(ctx, found) if found else None
    if when is None or when <= ctx.now:
        return Text("movein.reinspect.bad_time", {"value": text[:50]})
    return when
