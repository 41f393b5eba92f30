"""Community activities (社区文化活动): planned, prepared, announced, signed up for, recorded.

A supervisor, director or the community's service desk plans an activity (`/activity` in
chat, or the form on the desk's page): theme, items, cost, place, start and end, who takes
part and how many (with an optional limit per household), schedule, departments involved,
prizes. Saving it gives each department involved a follow-up task (`T-…`) due the day
before. Announcing it (a button) sends the community's residents a notice with a sign-up
button, paced and held through the quiet hours as announcements are. Residents sign up
with how many people come, up to the places left; they may cancel, freeing the places;
they are reminded the day before. Afterwards the organiser records what happened, with
photos, archived on the activity.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import announce
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Money, Reply, Text
from handlers.directory import person_chats
from handlers.followups import open_task
from handlers.rules import activities as rules
from handlers.rules.money import AmountError, read_amount
from handlers.rules.quiet import release_time
from storage import audit, jobs, keyvalue, outbox
from storage.models import (
    Activity,
    ActivitySignup,
    Binding,
    Community,
    Department,
    Job,
    Person,
    Photo,
    Unit,
)

PLAN_FLOW, SIGNUP_FLOW, RECORD_FLOW = "activity", "activity_signup", "activity_record"
REMINDER_JOB = "activity_reminder"
DEPARTMENTS = tuple(d.value for d in Department)
TEXT_LIMITS = {
    "theme": 200,
    "items": 2000,
    "place": 200,
    "audience": 200,
    "schedule": 2000,
    "prizes": 1000,
    "record": 4000,
}
OPTIONAL = ("items", "audience", "schedule", "prizes")


@dataclass(frozen=True)
class AnnounceActivity(Action):
    """The planned activity announced to the community's residents."""

    name: ClassVar[str] = "act_announce"
    activity: int


@dataclass(frozen=True)
class CancelSignup(Action):
    """A resident's own sign-up cancelled."""

    name: ClassVar[str] = "act_unsign"
    private: ClassVar[bool] = True
    activity: int


@dataclass(frozen=True)
class JoinWaitlist(Action):
    """A resident refused for want of places waits for some to free up."""

    name: ClassVar[str] = "act_wait"
    private: ClassVar[bool] = True
    activity: int
    people: int


class FieldError(ValueError):
    """A plan's field that cannot be taken; `key` names the polite explanation."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Plan:
    """An activity's plan as collected in chat or on the page."""

    community_id: int
    theme: str
    place: str
    starts_at: datetime
    ends_at: datetime
    cost: Decimal = Decimal(0)
    items: str = ""
    audience: str = ""
    capacity: int | None = None
    per_household: int | None = None
    schedule: str = ""
    departments: list[str] = field(default_factory=list)
    prizes: str = ""


# ---- reading what people type (the chat flow and the page's form share these) -------------


def local_today(ctx: Context) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


def read_text(name: str, text: str) -> str:
    words = text.strip()
    if not words:
        raise FieldError("activities.error.empty")
    if len(words) > TEXT_LIMITS[name]:
        raise FieldError("activities.error.too_long", limit=TEXT_LIMITS[name])
    return words


def read_cost(text: str) -> Decimal:
    """The cost in yuan as typed (`800`, `¥1,200.50`, `0` for none)."""
    try:
        return read_amount(text, least=Decimal(0), most=Decimal(rules.COST_MOST))
    except AmountError as why:
        raise FieldError("activities.error.cost", value=why.text) from None


def read_start(ctx: Context, text: str) -> datetime:
    found = rules.read_start(text.strip()[:60], local_today(ctx))
    if found is None:
        raise FieldError("activities.error.start")
    starts = found.replace(tzinfo=ctx.settings.tz)
    if starts <= ctx.now:
        raise FieldError("activities.error.start")
    return starts


def read_end(ctx: Context, text: str, starts_at: datetime) -> datetime:
    found = rules.read_end(
        text.strip()[:60], starts_at.astimezone(ctx.settings.tz).replace(tzinfo=None)
    )
    if found is None:
        raise FieldError("activities.error.end", starts=starts_at)
    return found.replace(tzinfo=ctx.settings.tz)


def read_people(text: str) -> int:
    found = rules.read_count(text)
    if found is None:
        raise FieldError("activities.error.count", most=rules.MOST_PEOPLE)
    return found


def read_departments(values: list[str]) -> list[str]:
    chosen = [v for v in DEPARTMENTS if v in values]
    if len(chosen) != len(set(values)):
        raise FieldError("activities.error.department")
    return chosen


# ---- who may do what --------------------------------------------------------------------


def may_plan(ctx: Context, community_id: int) -> bool:
    """Supervisors and directors of the community (or company-wide), and its service desk."""
    return announce.may_announce(ctx, community_id)


async def communities_for(ctx: Context) -> list[Community]:
    return await announce.communities_for(ctx)


async def community_of(ctx: Context, activity_id: int) -> Activity | None:
    """The activity, when the sender may run it (None: none, or not theirs)."""
    found = await ctx.session.get(Activity, activity_id)
    if found is None or not may_plan(ctx, found.community_id):
        return None
    return found


def _household_key(activity_id: int | None) -> str:
    return f"activity_household:{activity_id}"


async def household_limit(session: AsyncSession, activity_id: int | None) -> int | None:
    kept = await keyvalue.read(session, _household_key(activity_id))
    return int(kept) if kept else None


def plan_params(planned: Plan) -> dict[str, Any]:
    """A plan's lines, as the summary shows them before it is saved."""
    none = Text("activities.none")
    return {
        "theme": planned.theme,
        "items": planned.items or none,
        "cost": Money(planned.cost),
        "place": planned.place,
        "starts": planned.starts_at,
        "ends": planned.ends_at,
        "audience": planned.audience or Text("activities.audience.all"),
        "capacity": planned.capacity or Text("activities.places.unlimited"),
        "household": planned.per_household or Text("activities.places.unlimited"),
        "schedule": planned.schedule or none,
        "departments": [Text(f"department.{d}") for d in planned.departments] or none,
        "prizes": planned.prizes or none,
    }


# ---- planning ---------------------------------------------------------------------------


async def plan(ctx: Context, planned: Plan) -> list[Reply]:
    """The plan saved; each department involved gets its task, due the day before."""
    if not may_plan(ctx, planned.community_id):
        return [Reply("dialog.not_allowed")]
    activity = Activity(
        community_id=planned.community_id,
        theme=planned.theme,
        items=planned.items,
        cost=planned.cost,
        place=planned.place,
        starts_at=planned.starts_at,
        ends_at=planned.ends_at,
        audience=planned.audience,
        capacity=planned.capacity,
        schedule=planned.schedule,
        departments=list(planned.departments),
        prizes=planned.prizes,
        made_by=ctx.actor,
        made_at=ctx.now,
    )
    ctx.session.add(activity)
    await ctx.session.flush()
    assert activity.id is not None
    if planned.per_household is not None:
        await keyvalue.write(ctx.session, _household_key(activity.id), str(planned.per_household))
    pushes: list[Reply] = []
    numbers: list[str] = []
    due = rules.preparation_due(activity.starts_at, ctx.now)
    for department in activity.departments:
        words = ctx.catalogs.text(
            ctx.catalogs.default_locale,
            "activities.task",
            {
                "theme": activity.theme,
                "place": activity.place,
                "starts": activity.starts_at,
                "department": Text(f"department.{department}"),
                "schedule": activity.schedule or "—",
            },
        )
        ticket, cards = await open_task(
            ctx,
            community_id=activity.community_id,
            department=Department(department),
            description=words,
            due_at=due,
            details={"activity": activity.id},
        )
        numbers.append(ticket.number)
        pushes += cards
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="activity_plan",
        target=f"activity:{activity.id}",
        detail={"theme": activity.theme, "tasks": numbers},
        now=ctx.now,
    )
    said = Reply(
        "activities.planned",
        {
            "theme": activity.theme,
            "starts": activity.starts_at,
            "tasks": ", ".join(numbers) if numbers else Text("activities.tasks.none"),
        },
        choices=(AnnounceActivity(activity.id).choice("activities.btn.announce"),),
    )
    return [said, *pushes]


# ---- announcing -----------------------------------------------------------------------------


def places_text(activity: Activity, taken: int) -> Any:
    left = rules.places_left(activity.capacity, taken)
    if left is None:
        return Text("activities.places.unlimited")
    return Text("activities.places.left", {"left": left, "capacity": activity.capacity})


async def announce_activity(ctx: Context, action: AnnounceActivity) -> list[Reply]:
    """The notice with its sign-up button to every resident chat of the community, queued
    in bulk behind the replies and held through the quiet hours; the reminder booked."""
    activity = await community_of(ctx, action.activity)
    if activity is None:
        return [Reply("dialog.not_allowed")]
    if activity.status != "planned":
        return [Reply("activities.already_announced", {"theme": activity.theme})]
    if activity.starts_at <= ctx.now:
        return [Reply("activities.already_started", {"theme": activity.theme})]
    community = await ctx.session.get(Community, activity.community_id)
    assert community is not None and community.id is not None and activity.id is not None
    chats = await announce.recipients(ctx.session, community.id, None)
    settings = ctx.settings
    later = release_time(ctx.now, settings.tz, settings.quiet_hours_start, settings.quiet_hours_end)
    limit = await household_limit(ctx.session, activity.id)
    notice = Reply(
        "activities.notice",
        {
            "company": settings.company_name,
            "community": community.name,
            "theme": activity.theme,
            "items": activity.items or "—",
            "place": activity.place,
            "starts": activity.starts_at,
            "ends": activity.ends_at,
            "audience": activity.audience or Text("activities.audience.all"),
            "places": places_text(activity, 0),
            "household": Text("activities.household", {"limit": limit}) if limit else "",
            "prizes": activity.prizes or "—",
        },
        choices=(Choice(f"flow:{SIGNUP_FLOW}:{activity.id}", "activities.btn.signup"),),
    )
    rendered: dict[str, dict[str, Any]] = {}
    messages = []
    for chat, _ in chats:
        locale = chat.locale or settings.default_locale
        if locale not in rendered:
            rendered[locale] = ctx.catalogs.render(notice, locale)
        messages.append(
            outbox.Message(
                chat.channel,
                chat.chat_id,
                rendered[locale],
                announce.dedupe_key(f"activity{activity.id}", chat),
            )
        )
    await outbox.enqueue_many(ctx.session, messages, now=ctx.now, not_before=later, bulk=True)
    activity.status, activity.announced_at = "announced", ctx.now
    ctx.session.add(activity)
    remind = rules.reminder_at(activity.starts_at, settings.tz, ctx.now)
    if remind is not None:
        await jobs.schedule(
            ctx.session,
            kind=REMINDER_JOB,
            due_at=remind,
            payload={"activity": activity.id},
            dedupe_key=f"{REMINDER_JOB}:{activity.id}",
        )
    residents = len({person for _, person in chats})
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="activity_announce",
        target=f"activity:{activity.id}",
        detail={"residents": residents, "chats": len(chats)},
        now=ctx.now,
    )
    return [
        Reply(
            "activities.announced",
            {
                "theme": activity.theme,
                "residents": residents,
                "when": "" if later is None else Text("announce.quiet", {"at": later}),
            },
        )
    ]


# ---- signing up -----------------------------------------------------------------------------


async def _active(session: AsyncSession, activity_id: int) -> list[ActivitySignup]:
    found = await session.exec(
        select(ActivitySignup)
        .where(
            ActivitySignup.activity_id == activity_id, col(ActivitySignup.cancelled_at).is_(None)
        )
        .order_by(col(ActivitySignup.at))
    )
    return list(found.all())


async def taken(session: AsyncSession, activity_id: int) -> int:
    stmt = select(func.coalesce(func.sum(ActivitySignup.people), 0)).where(
        ActivitySignup.activity_id == activity_id, col(ActivitySignup.cancelled_at).is_(None)
    )
    return int((await session.exec(stmt)).one())


async def _own(session: AsyncSession, activity_id: int, person_id: int) -> ActivitySignup | None:
    found = await session.exec(
        select(ActivitySignup).where(
            ActivitySignup.activity_id == activity_id, ActivitySignup.person_id == person_id
        )
    )
    return found.first()


async def _unit_in(session: AsyncSession, person_id: int, community_id: int) -> Unit | None:
    """The resident's flat in the activity's community (the first bound)."""
    found = await session.exec(
        select(Unit)
        .join(Binding, col(Binding.unit_id) == col(Unit.id))
        .where(Binding.person_id == person_id, Unit.community_id == community_id)
        .order_by(col(Binding.id))
    )
    return found.first()


async def _open_for_signup(ctx: Context, activity_id: int) -> tuple[Activity, Unit] | list[Reply]:
    """The activity, open for sign-up, and the sender's flat in its community."""
    activity = await ctx.session.get(Activity, activity_id)
    if activity is None or activity.status != "announced":
        return [Reply("activities.signup.closed")]
    if activity.starts_at <= ctx.now:
        return [Reply("activities.signup.started", {"theme": activity.theme})]
    if ctx.person is None or ctx.person.id is None:
        return [Reply("activities.signup.bind_first")]
    unit = await _unit_in(ctx.session, ctx.person.id, activity.community_id)
    if unit is None:
        return [Reply("activities.signup.bind_first")]
    return activity, unit


async def signup_begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """The notice's sign-up button (`<activity id>`): how many people come is asked."""
    activity_id = int(initial) if initial and initial.isdigit() and len(initial) < 10 else 0
    found = await _open_for_signup(ctx, activity_id)
    if isinstance(found, list):
        return found
    activity, _ = found
    assert ctx.person is not None and ctx.person.id is not None and activity.id is not None
    mine = await _own(ctx.session, activity.id, ctx.person.id)
    if mine is not None and mine.cancelled_at is None:
        return [
            Reply(
                "activities.signup.already",
                {"theme": activity.theme, "people": mine.people},
                choices=(CancelSignup(activity.id).choice("activities.btn.cancel"),),
            )
        ]
    if any(w["person"] == ctx.person.id for w in await waiting(ctx.session, activity.id)):
        return [
            Reply(
                "activities.wait.already",
                {"theme": activity.theme},
                choices=(CancelSignup(activity.id).choice("activities.btn.cancel"),),
            )
        ]
    return {
        "_activity": activity.id,
        "_theme": activity.theme,
        "_places": places_text(activity, await taken(ctx.session, activity.id)),
    }


async def sign_up(ctx: Context, activity_id: int, people: int) -> list[Reply]:
    """Signed up with `people`, if the places (and the household's limit) allow."""
    found = await _open_for_signup(ctx, activity_id)
    if isinstance(found, list):
        return found
    activity, unit = found
    assert ctx.person is not None and ctx.person.id is not None and activity.id is not None
    await _lock(ctx.session, activity.id)  # two sign-ups for the last places queue
    mine = await _own(ctx.session, activity.id, ctx.person.id)
    if mine is not None and mine.cancelled_at is None:
        return [
            Reply("activities.signup.already", {"theme": activity.theme, "people": mine.people})
        ]
    problem, left, limit = await _problem(ctx.session, activity, unit, people)
    if problem == rules.HOUSEHOLD:
        return [Reply("activities.signup.household", {"limit": limit})]
    if problem == rules.FULL:
        offered = [JoinWaitlist(activity.id, people).choice("activities.btn.wait", people=people)]
        if left:
            offered.append(
                Choice(f"flow:{SIGNUP_FLOW}:{activity.id}", "activities.btn.fewer", {"left": left})
            )
        return [
            Reply(
                "activities.signup.full",
                {"theme": activity.theme, "left": left},
                choices=tuple(offered),
            )
        ]
    _signed_up(ctx, activity, mine, ctx.person.id, unit.id, people)
    return [
        Reply(
            "activities.signup.ok",
            {
                "theme": activity.theme,
                "people": people,
                "place": activity.place,
                "starts": activity.starts_at,
            },
            choices=(CancelSignup(activity.id).choice("activities.btn.cancel"),),
        )
    ]


def _signed_up(
    ctx: Context,
    activity: Activity,
    mine: ActivitySignup | None,
    person_id: int,
    unit_id: int | None,
    people: int,
) -> ActivitySignup:
    """The sign-up row written (a cancelled one of the same person taken up again)."""
    assert activity.id is not None
    if mine is None:
        mine = ActivitySignup(activity_id=activity.id, person_id=person_id, at=ctx.now)
    mine.unit_id, mine.people, mine.at, mine.cancelled_at = unit_id, people, ctx.now, None
    ctx.session.add(mine)
    return mine


async def _problem(
    session: AsyncSession, activity: Activity, unit: Unit, people: int
) -> tuple[str | None, int | None, int | None]:
    """Why `people` more cannot come (`rules.FULL`, `rules.HOUSEHOLD`) or None; with the
    places left and the household's limit."""
    assert activity.id is not None
    others = await _active(session, activity.id)
    limit = await household_limit(session, activity.id)
    taken_now = sum(s.people for s in others)
    problem = rules.signup_problem(
        activity.capacity,
        taken_now,
        people,
        limit,
        sum(s.people for s in others if s.unit_id == unit.id),
    )
    return problem, rules.places_left(activity.capacity, taken_now), limit


async def people_refused(ctx: Context, activity_id: int, people: int) -> Reply | None:
    """The sign-up step's check of the number typed: more than the household may bring is
    asked again (too few places left is answered at the end, with the waiting list)."""
    found = await _open_for_signup(ctx, activity_id)
    if isinstance(found, list):
        return found[0]
    activity, unit = found
    problem, _, limit = await _problem(ctx.session, activity, unit, people)
    if problem == rules.HOUSEHOLD:
        return Reply("activities.signup.household", {"limit": limit})
    return None


# ---- the waiting list -----------------------------------------------------------------------


def _waiting_key(activity_id: int) -> str:
    return f"activity_waiting:{activity_id}"


async def waiting(session: AsyncSession, activity_id: int) -> list[dict[str, Any]]:
    """Who waits for places, first come first: `{"person", "unit", "people", "at"}`."""
    kept = await keyvalue.read(session, _waiting_key(activity_id))
    return list(json.loads(kept)) if kept else []


async def _keep_waiting(
    session: AsyncSession, activity_id: int, entries: list[dict[str, Any]]
) -> None:
    await keyvalue.write(session, _waiting_key(activity_id), json.dumps(entries))


async def _lock(session: AsyncSession, activity_id: int) -> None:
    """The activity's row locked (PostgreSQL; SQLite has one writer), so sign-ups,
    cancellations and the waiting list of one activity go one after the other."""
    await session.exec(select(Activity).where(Activity.id == activity_id).with_for_update())


async def join_waitlist(ctx: Context, action: JoinWaitlist) -> list[Reply]:
    """On the waiting list with `people`; signed up at once if places have freed since."""
    found = await _open_for_signup(ctx, action.activity)
    if isinstance(found, list):
        return found
    activity, unit = found
    assert ctx.person is not None and ctx.person.id is not None and activity.id is not None
    if not 1 <= action.people <= rules.MOST_PEOPLE:
        return [Reply("dialog.stale")]
    await _lock(ctx.session, activity.id)
    mine = await _own(ctx.session, activity.id, ctx.person.id)
    if mine is not None and mine.cancelled_at is None:
        return [
            Reply("activities.signup.already", {"theme": activity.theme, "people": mine.people})
        ]
    entries = await waiting(ctx.session, activity.id)
    if any(w["person"] == ctx.person.id for w in entries):
        return [Reply("activities.wait.already", {"theme": activity.theme})]
    problem, _, _ = await _problem(ctx.session, activity, unit, action.people)
    if problem is None:
        return await sign_up(ctx, activity.id, action.people)
    entries.append(
        {
            "person": ctx.person.id,
            "unit": unit.id,
            "people": action.people,
            "at": ctx.now.isoformat(),
        }
    )
    await _keep_waiting(ctx.session, activity.id, entries)
    return [
        Reply(
            "activities.wait.ok",
            {"theme": activity.theme, "people": action.people, "position": len(entries)},
            choices=(CancelSignup(activity.id).choice("activities.btn.cancel"),),
        )
    ]


async def _promote(ctx: Context, activity: Activity) -> list[Reply]:
    """Places freed: those waiting are signed up in turn while the first in line fits,
    and told so in their chats."""
    assert activity.id is not None
    entries = await waiting(ctx.session, activity.id)
    told: list[Reply] = []
    while entries:
        first = entries[0]
        unit = await ctx.session.get(Unit, first["unit"])
        if unit is None:
            entries.pop(0)
            continue
        problem, _, _ = await _problem(ctx.session, activity, unit, int(first["people"]))
        if problem is not None:
            break
        entries.pop(0)
        person_id = int(first["person"])
        mine = await _own(ctx.session, activity.id, person_id)
        _signed_up(ctx, activity, mine, person_id, unit.id, int(first["people"]))
        await ctx.session.flush()
        params = {
            "theme": activity.theme,
            "people": first["people"],
            "place": activity.place,
            "starts": activity.starts_at,
        }
        told += [
            Reply(
                "activities.wait.promoted",
                params,
                to=chat,
                choices=(CancelSignup(activity.id).choice("activities.btn.cancel"),),
            )
            for chat in await person_chats(ctx.session, person_id)
        ]
    await _keep_waiting(ctx.session, activity.id, entries)
    return told


async def cancel_signup(ctx: Context, action: CancelSignup) -> list[Reply]:
    """The resident's sign-up cancelled, its places free for others."""
    activity = await ctx.session.get(Activity, action.activity)
    if activity is None or ctx.person is None or ctx.person.id is None:
        return [Reply("dialog.stale")]
    if activity.starts_at <= ctx.now:
        return [Reply("activities.signup.started", {"theme": activity.theme})]
    assert activity.id is not None
    await _lock(ctx.session, activity.id)
    entries = await waiting(ctx.session, activity.id)
    still = [w for w in entries if w["person"] != ctx.person.id]
    if len(still) < len(entries):
        await _keep_waiting(ctx.session, activity.id, still)
        return [Reply("activities.wait.left", {"theme": activity.theme})]
    mine = await _own(ctx.session, action.activity, ctx.person.id)
    if mine is None or mine.cancelled_at is not None:
        return [Reply("activities.cancel.none", {"theme": activity.theme})]
    mine.cancelled_at = ctx.now
    ctx.session.add(mine)
    await ctx.session.flush()
    said = Reply("activities.cancel.ok", {"theme": activity.theme, "people": mine.people})
    return [said, *await _promote(ctx, activity)]


async def reminder_job(ctx: Context, job: Job) -> list[Reply]:
    """The day before: everyone still signed up is reminded, in each of their chats."""
    activity = await ctx.session.get(Activity, job.payload.get("activity"))
    if activity is None or activity.status != "announced" or activity.id is None:
        return []
    replies: list[Reply] = []
    for signup in await _active(ctx.session, activity.id):
        params = {
            "theme": activity.theme,
            "place": activity.place,
            "starts": activity.starts_at,
            "people": signup.people,
        }
        replies += [
            Reply(
                "activities.reminder",
                params,
                to=chat,
                choices=(CancelSignup(activity.id).choice("activities.btn.cancel"),),
            )
            for chat in await person_chats(ctx.session, signup.person_id)
        ]
    return replies


# ---- the record afterwards ----------------------------------------------------------------


async def record_begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    activity_id = int(initial) if initial and initial.isdigit() and len(initial) < 10 else 0
    activity = await community_of(ctx, activity_id)
    if activity is None:
        return [Reply("dialog.not_allowed")]
    refused = _may_record(ctx, activity)
    if refused:
        return refused
    return {"_activity": activity.id, "_theme": activity.theme}


def _may_record(ctx: Context, activity: Activity) -> list[Reply]:
    if activity.status == "done":
        return [Reply("activities.record.already", {"theme": activity.theme})]
    if activity.starts_at > ctx.now:
        return [Reply("activities.record.not_yet", {"starts": activity.starts_at})]
    return []


async def record(
    ctx: Context,
    activity_id: int,
    text: str,
    photos: list[str],
    uploaded: Sequence[str] = (),
) -> list[Reply]:
    """What happened and its photos, archived on the activity; it is done. `photos` are
    the chat channel's file references; `uploaded`, files the desk's page kept under the
    data folder."""
    activity = await community_of(ctx, activity_id)
    if activity is None:
        return [Reply("dialog.not_allowed")]
    refused = _may_record(ctx, activity)
    if refused:
        return refused
    kept = [Photo(channel=ctx.msg.channel, file_ref=ref[:300], at=ctx.now) for ref in photos]
    kept += [
        Photo(channel=ctx.msg.channel, file_ref="", stored_path=path[:300], at=ctx.now)
        for path in uploaded
    ]
    ctx.session.add_all(kept)
    await ctx.session.flush()
    activity.record = text[: TEXT_LIMITS["record"]]
    activity.photos = [*activity.photos, *(str(p.id) for p in kept)]
    activity.status = "done"
    ctx.session.add(activity)
    signed = await _active(ctx.session, activity_id)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="activity_record",
        target=f"activity:{activity.id}",
        detail={"photos": len(kept), "signed_up": sum(s.people for s in signed)},
        now=ctx.now,
    )
    return [
        Reply(
            "activities.record.ok",
            {"theme": activity.theme, "photos": len(kept), "people": sum(s.people for s in signed)},
        )
    ]


async def activity_photo(ctx: Context, activity_id: int, photo_id: int) -> Photo | None:
    """A photo of an activity's record, for those who run its community."""
    activity = await community_of(ctx, activity_id)
    if activity is None or str(photo_id) not in activity.photos:
        return None
    return await ctx.session.get(Photo, photo_id)


# ---- lists ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    signup: ActivitySignup
    person: Person | None
    unit: Unit | None


@dataclass(frozen=True)
class Waiting:
    person: Person | None
    unit: Unit | None
    people: int


@dataclass(frozen=True)
class Shown:
    """An activity as the desk's page shows it."""

    activity: Activity
    signed: list[Signed]
    taken: int
    household: int | None
    waiting: list[Waiting] = field(default_factory=list)
    recordable: bool = False  # begun and not yet recorded: the page offers the record


async def shown(session: AsyncSession, activity: Activity, now: datetime) -> Shown:
    assert activity.id is not None
    signed = [
        Signed(
            s,
            await session.get(Person, s.person_id),
            await session.get(Unit, s.unit_id) if s.unit_id else None,
        )
        for s in await _active(session, activity.id)
    ]
    return Shown(
        activity,
        signed,
        sum(s.signup.people for s in signed),
        await household_limit(session, activity.id),
        [
            Waiting(
                await session.get(Person, w["person"]),
                await session.get(Unit, w["unit"]),
                int(w["people"]),
            )
            for w in await waiting(session, activity.id)
        ],
        activity.status in ("planned", "announced") and activity.starts_at <= now,
    )


async def of_community(session: AsyncSession, community_id: int) -> list[Activity]:
    found = await session.exec(
        select(Activity)
        .where(Activity.community_id == community_id)
        .order_by(col(Activity.starts_at).desc())
    )
    return list(found.all())


async def activities_command(ctx: Context, argument: str) -> list[Reply]:
    """`/activities`: staff who run a community see its activities with what to do next;
    residents see those open for sign-up and their own."""
    communities = await communities_for(ctx)
    if communities:
        return await _staff_list(ctx, communities)
    if ctx.person is None and ctx.staff:
        return [Reply("dialog.not_allowed")]
    return await _resident_list(ctx)


async def _staff_list(ctx: Context, communities: list[Community]) -> list[Reply]:
    lines: list[Text] = []
    choices: list[Choice] = []
    for community in communities:
        assert community.id is not None
        for activity in await of_community(ctx.session, community.id):
            if activity.status in ("done", "cancelled") or activity.id is None:
                continue
            count = await taken(ctx.session, activity.id)
            lines.append(
                Text(
                    "activities.list.staff_line",
                    {
                        "theme": activity.theme,
                        "starts": activity.starts_at,
                        "status": Text(f"activities.status.{activity.status}"),
                        "people": count,
                        "places": places_text(activity, count),
                    },
                )
            )
            if activity.status == "planned":
                choices.append(
                    AnnounceActivity(activity.id).choice(
                        "activities.btn.announce_named", theme=activity.theme
                    )
                )
            elif activity.starts_at <= ctx.now:
                choices.append(
                    Choice(
                        f"flow:{RECORD_FLOW}:{activity.id}",
                        "activities.btn.record",
                        {"theme": activity.theme},
                    )
                )
    if not lines:
        return [Reply("activities.list.none_staff")]
    return [Reply("activities.list.staff", {"lines": lines}, choices=tuple(choices[:12]))]


async def _resident_list(ctx: Context) -> list[Reply]:
    if ctx.person is None or ctx.person.id is None:
        return [Reply("activities.signup.bind_first")]
    units = (
        await ctx.session.exec(
            select(Unit)
            .join(Binding, col(Binding.unit_id) == col(Unit.id))
            .where(Binding.person_id == ctx.person.id)
        )
    ).all()
    lines: list[Text] = []
    choices: list[Choice] = []
    for community_id in sorted({u.community_id for u in units}):
        for activity in await of_community(ctx.session, community_id):
            if activity.status != "announced" or activity.starts_at <= ctx.now:
                continue
            assert activity.id is not None
            mine = await _own(ctx.session, activity.id, ctx.person.id)
            signed = mine is not None and mine.cancelled_at is None
            params = {
                "theme": activity.theme,
                "starts": activity.starts_at,
                "place": activity.place,
                "mine": Text("activities.list.mine", {"people": mine.people})
                if signed and mine is not None
                else places_text(activity, await taken(ctx.session, activity.id)),
            }
            lines.append(Text("activities.list.line", params))
            if signed:
                choices.append(
                    CancelSignup(activity.id).choice(
                        "activities.btn.cancel_named", theme=activity.theme
                    )
                )
            else:
                choices.append(
                    Choice(
                        f"flow:{SIGNUP_FLOW}:{activity.id}",
                        "activities.btn.signup_named",
                        {"theme": activity.theme},
                    )
                )
    if not lines:
        return [Reply("activities.list.none")]
    return [Reply("activities.list", {"lines": lines}, choices=tuple(choices[:12]))]
