"""Emergencies raised by staff (突发事件): the first-line handling and reporting up.

Any active staff member of a community raises one (`/incident` in chat, or the desk's
page): it gets a number (E-…) and its card goes at once, whatever the hour, to the duty
supervisor (all supervisors when nobody has the duty), the director and the department
groups the kind needs (handlers/rules/incidents.py). The card's buttons record who takes
it, who is there, progress with photos and "controlled"; the supervisor, the director or
the desk tell the affected building's residents in one step and close it with a short
report, which goes to the director. Every step is a line of `Incident.timeline` with who
and when, and the card is drawn again (edited in place) after each.

The resident's own emergency path (handlers/emergency.py, work orders) is separate: this is
the staff's side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from handlers import announce
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.directory import department_chats, people_with_role
from handlers.duty import on_duty
from handlers.rules import incidents as rules
from handlers.rules.quiet import release_time
from handlers.staffauth import acting_member
from handlers.web_accounts import CHANNEL as WEB
from storage import audit, outbox, tickets
from storage.models import Building, Community, Department, Incident, StaffMember

FLOW, NOTE_FLOW, NOTIFY_FLOW, CLOSE_FLOW = (
    "incident",
    "incident_note",
    "incident_notify",
    "incident_close",
)
OPEN, CLOSED = "open", "closed"
WHOLE = "all"  # the residents of the whole community, not one building
BATCH = 50  # incidents one sweep round looks at
LISTED = 10  # open incidents `/incidents` shows


@dataclass(frozen=True)
class Take(Action):
    """我来处理: the one pressing takes charge of the incident on site."""

    name = "inc_take"
    incident: int


@dataclass(frozen=True)
class Arrive(Action):
    """到场: the one pressing is there."""

    name = "inc_here"
    incident: int


@dataclass(frozen=True)
class Controlled(Action):
    """已控制: the danger is over (the fire out, the water off, the people out of the lift)."""

    name = "inc_ctrl"
    incident: int


# ---- who ----------------------------------------------------------------------------------


async def communities_for(ctx: Context) -> list[Community]:
    """The communities the sender is active staff of (all of them for company-wide staff)."""
    found = (await ctx.session.exec(select(Community).order_by(col(Community.id)))).all()
    return [c for c in found if c.id is not None and acting_member(ctx, c.id) is not None]


def may_manage(ctx: Context, community_id: int) -> bool:
    """Telling residents and closing: the supervisors, the director and the service desk."""
    return acting_member(ctx, community_id, Department.service) is not None


def local_today(ctx: Context) -> Any:
    return ctx.now.astimezone(ctx.settings.tz).date()


# ---- the timeline -------------------------------------------------------------------------


def add_step(
    ctx: Context, incident: Incident, member: StaffMember | None, step: str, **extra: Any
) -> None:
    """One more line of the timeline: what, who and when (a new list, so it is saved)."""
    entry = {
        "step": step,
        "by": member.name if member is not None else "",
        "by_id": member.id if member is not None else None,
        "at": ctx.now.isoformat(),
        **extra,
    }
    incident.timeline = [*incident.timeline, entry]
    ctx.session.add(incident)


async def record(ctx: Context, incident: Incident, step: str) -> None:
    """Every step taken on an incident is in the audit log, as a ticket's actions are."""
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action=f"incident_{step}",
        target=incident.number,
        detail={"incident": incident.id},
        now=ctx.now,
    )


def steps_of(incident: Incident, step: str) -> list[dict[str, Any]]:
    return [e for e in incident.timeline if e.get("step") == step]


def is_controlled(incident: Incident) -> bool:
    return bool(steps_of(incident, rules.CONTROLLED))


def status_of(incident: Incident) -> str:
    if incident.status == CLOSED:
        return CLOSED
    return rules.CONTROLLED if is_controlled(incident) else OPEN


def line(entry: dict[str, Any]) -> Text:
    """A timeline entry in words: `2026-11-27 03:12 王师傅 已到场`."""
    step = str(entry.get("step"))
    params: dict[str, Any] = {
        "at": datetime.fromisoformat(str(entry["at"])),
        "by": entry.get("by") or "—",
        "note": entry.get("note") or "",
        "photos": Text("incident.photos", {"count": len(entry["photos"])})
        if entry.get("photos")
        else "",
    }
    if step == rules.RESIDENTS:
        params |= {
            "count": entry.get("residents", 0),
            "scope": entry.get("scope") or "",
            "how": Text(
                "incident.residents.urgent" if entry.get("urgent") else "incident.residents.quiet"
            ),
        }
    if step == rules.REMINDED:
        params["who"] = Text(f"incident.reminded.{entry.get('to', rules.SUPERVISOR)}")
    return Text(f"incident.line.{step if step in rules.STEPS else rules.PROGRESS}", params)


def timeline_text(incident: Incident) -> list[Text]:
    return [line(entry) for entry in incident.timeline]


def last_step(incident: Incident) -> Text | str:
    return line(incident.timeline[-1]) if incident.timeline else ""


async def where_of(ctx: Context, incident: Incident) -> Any:
    """The building and the spot, as far as they were given."""
    building = (
        await ctx.session.get(Building, incident.building_id) if incident.building_id else None
    )
    parts = [p for p in (building.name if building else "", incident.place) if p]
    return " ".join(parts) if parts else Text("incident.where.none")


# ---- the card -----------------------------------------------------------------------------


async def recipients(ctx: Context, incident: Incident) -> list[Recipient]:
    """Everyone the card goes to: the duty supervisor (or every supervisor), the director,
    the department groups the kind needs, and the chat it was raised from; each once."""
    chats = [
        *await on_duty(ctx.session, incident.community_id),
        *await people_with_role(ctx.session, incident.community_id, "director"),
    ]
    for department in rules.departments_for(incident.kind):
        chats += await department_chats(ctx.session, incident.community_id, department)
    raised = steps_of(incident, rules.RAISED)
    if raised and raised[0].get("chat"):
        channel, chat_id = raised[0]["chat"]
        chats.append(Recipient(channel, chat_id))
    seen: set[tuple[str, str]] = set()
    unique = []
    for chat in chats:
        if (chat.channel, chat.chat_id) not in seen:
            seen.add((chat.channel, chat.chat_id))
            unique.append(chat)
    return unique


def card_choices(incident: Incident) -> tuple[Choice, ...]:
    if incident.id is None or incident.status == CLOSED:
        return ()
    ref = incident.id
    choices = [Take(ref).choice("incident.btn.take"), Arrive(ref).choice("incident.btn.arrive")]
    if not is_controlled(incident):
        choices.append(Controlled(ref).choice("incident.btn.controlled"))
    choices += [
        Choice(f"flow:{NOTE_FLOW}:{ref}", "incident.btn.progress"),
        Choice(f"flow:{NOTIFY_FLOW}:{ref}", "incident.btn.residents"),
        Choice(f"flow:{CLOSE_FLOW}:{ref}", "incident.btn.close"),
    ]
    return tuple(choices)


async def card_params(ctx: Context, incident: Incident) -> dict[str, Any]:
    return {
        "number": incident.number,
        "kind": Text(f"incident.kind.{incident.kind}"),
        "where": await where_of(ctx, incident),
        "description": incident.description,
        "status": Text(f"incident.status.{status_of(incident)}"),
        "timeline": timeline_text(incident),
    }


async def cards(ctx: Context, incident: Incident) -> list[Reply]:
    """The card, drawn again for every chat that shows it (edited in place); urgent while
    the incident is open, so a step at night is not held back until morning."""
    params = await card_params(ctx, incident)
    choices = card_choices(incident)
    return [
        Reply(
            "incident.card",
            params,
            choices=choices,
            to=chat,
            card=f"incident:{incident.id}",
            urgent=incident.status != CLOSED,
        )
        for chat in await recipients(ctx, incident)
    ]


async def _with_answer(ctx: Context, incident: Incident, answer: Reply) -> list[Reply]:
    """The cards, and the sender's own answer when their chat shows no card."""
    pushed = await cards(ctx, incident)
    here = (ctx.msg.channel, ctx.msg.chat_id)
    if any(r.to is not None and (r.to.channel, r.to.chat_id) == here for r in pushed):
        return pushed
    return [answer, *pushed]


# ---- raising ------------------------------------------------------------------------------


async def raise_incident(
    ctx: Context,
    *,
    community_id: int,
    kind: str,
    building_id: int | None,
    place: str,
    description: str,
    photos: Sequence[str] = (),
) -> list[Reply]:
    """A new incident: numbered, on the timeline, and its card out at once to all who must
    act, whatever the hour."""
    member = acting_member(ctx, community_id)
    if member is None:
        return [Reply("incident.staff_only")]
    if kind not in rules.KINDS:
        return [Reply("dialog.stale")]
    if building_id is not None:
        building = await ctx.session.get(Building, building_id)
        if building is None or building.community_id != community_id:
            return [Reply("dialog.stale")]
    number = await tickets.next_number(ctx.session, community_id, "incident", local_today(ctx))
    incident = Incident(
        community_id=community_id,
        number=number,
        kind=kind,
        building_id=building_id,
        place=place[:200],
        description=description[:2000],
        raised_by=member.name,
        raised_at=ctx.now,
        timeline=[],
    )
    add_step(
        ctx,
        incident,
        member,
        rules.RAISED,
        note=description[:2000],
        photos=list(photos),
        # The chat it was raised from sees the card too; a page shows it already.
        chat=[ctx.msg.channel, ctx.msg.chat_id] if ctx.msg.channel != WEB else None,
    )
    await ctx.session.flush()
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="incident_raised",
        target=number,
        detail={"kind": kind, "building": building_id, "place": place[:200]},
        now=ctx.now,
    )
    told = [Text(f"department.{d}") for d in rules.departments_for(kind)]
    answer = Reply(
        "incident.raised",
        {
            "number": number,
            "kind": Text(f"incident.kind.{kind}"),
            "departments": "、".join(ctx.catalogs.text(ctx.locale, t.key) for t in told),
        },
    )
    return [answer, *await cards(ctx, incident)]


# ---- the card's buttons -------------------------------------------------------------------


async def open_incident(
    ctx: Context, incident_id: int | None
) -> tuple[Incident, StaffMember] | list[Reply]:
    """An open incident of the sender's community, and the sender's staff record there."""
    incident = await ctx.session.get(Incident, incident_id) if incident_id else None
    if incident is None:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, incident.community_id)
    if member is None:
        return [Reply("incident.staff_only")]
    if incident.status == CLOSED:
        return [Reply("incident.already_closed", {"number": incident.number})]
    return incident, member


async def _once_each(ctx: Context, incident_id: int, step: str) -> list[Reply]:
    """Take or arrive: each person once."""
    found = await open_incident(ctx, incident_id)
    if isinstance(found, list):
        return found
    incident, member = found
    if any(e.get("by_id") == member.id for e in steps_of(incident, step)):
        return [Reply(f"incident.again.{step}", {"number": incident.number})]
    add_step(ctx, incident, member, step)
    await record(ctx, incident, step)
    answer = Reply(
        "incident.noted", {"number": incident.number, "step": line(incident.timeline[-1])}
    )
    return await _with_answer(ctx, incident, answer)


async def take(ctx: Context, action: Take) -> list[Reply]:
    return await _once_each(ctx, action.incident, rules.TAKEN)


async def arrive(ctx: Context, action: Arrive) -> list[Reply]:
    return await _once_each(ctx, action.incident, rules.ARRIVED)


async def controlled(ctx: Context, action: Controlled) -> list[Reply]:
    found = await open_incident(ctx, action.incident)
    if isinstance(found, list):
        return found
    incident, member = found
    if is_controlled(incident):
        return [Reply("incident.again.controlled", {"number": incident.number})]
    add_step(ctx, incident, member, rules.CONTROLLED)
    await record(ctx, incident, rules.CONTROLLED)
    answer = Reply(
        "incident.noted", {"number": incident.number, "step": line(incident.timeline[-1])}
    )
    return await _with_answer(ctx, incident, answer)


async def add_progress(
    ctx: Context, incident_id: int, note: str, photos: Sequence[str] = ()
) -> list[Reply]:
    found = await open_incident(ctx, incident_id)
    if isinstance(found, list):
        return found
    incident, member = found
    add_step(ctx, incident, member, rules.PROGRESS, note=note[:1000], photos=list(photos))
    await record(ctx, incident, rules.PROGRESS)
    answer = Reply(
        "incident.noted", {"number": incident.number, "step": line(incident.timeline[-1])}
    )
    return await _with_answer(ctx, incident, answer)


# ---- telling residents --------------------------------------------------------------------


async def managed_incident(
    ctx: Context, incident_id: int | None
) -> tuple[Incident, StaffMember] | list[Reply]:
    """An open incident the sender may tell residents of and close."""
    found = await open_incident(ctx, incident_id)
    if isinstance(found, list):
        return found
    if not may_manage(ctx, found[0].community_id):
        return [Reply("incident.managers_only")]
    return found


async def scope_name(ctx: Context, community: Community, building_id: int | None) -> str:
    building = await ctx.session.get(Building, building_id) if building_id else None
    return building.name if building is not None else community.name


async def audience(ctx: Context, incident: Incident, building_id: int | None) -> int:
    reached = await announce.audience(ctx.session, incident.community_id, building_id)
    return reached.residents


async def notify_residents(
    ctx: Context, incident_id: int, building_id: int | None, text: str, urgent: bool
) -> list[Reply]:
    """The residents of the building (or the whole community) told in one step, as an
    announcement is sent: at once when urgent, else after the quiet hours; on the timeline
    with how many residents it reached."""
    found = await managed_incident(ctx, incident_id)
    if isinstance(found, list):
        return found
    incident, member = found
    community = await ctx.session.get(Community, incident.community_id)
    assert community is not None and community.id is not None
    if building_id is not None:
        building = await ctx.session.get(Building, building_id)
        if building is None or building.community_id != community.id:
            return [Reply("dialog.stale")]
    chats = await announce.recipients(ctx.session, community.id, building_id)
    if not chats:
        return [Reply("incident.residents.nobody")]
    settings = ctx.settings
    later = (
        None
        if urgent
        else release_time(
            ctx.now, settings.tz, settings.quiet_hours_start, settings.quiet_hours_end
        )
    )
    notice = Reply(
        "incident.residents.notice",
        {"community": community.name, "company": settings.company_name, "text": text},
    )
    ref = f"incident{incident.id}n{len(steps_of(incident, rules.RESIDENTS)) + 1}"
    payloads: dict[str, dict[str, Any]] = {}
    messages = []
    for chat, _ in chats:
        locale = chat.locale or settings.default_locale
        if locale not in payloads:
            payloads[locale] = ctx.catalogs.render(notice, locale)
        messages.append(
            outbox.Message(
                chat.channel, chat.chat_id, payloads[locale], announce.dedupe_key(ref, chat)
            )
        )
    await outbox.enqueue_many(ctx.session, messages, now=ctx.now, not_before=later, bulk=True)
    residents = len({person for _, person in chats})
    scope = await scope_name(ctx, community, building_id)
    add_step(
        ctx,
        incident,
        member,
        rules.RESIDENTS,
        residents=residents,
        chats=len(chats),
        scope=scope,
        urgent=urgent,
        note=text[:1000],
    )
    incident.residents_told_at = ctx.now
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="incident_residents",
        target=incident.number,
        detail={"building": building_id, "residents": residents, "urgent": urgent, "text": text},
        now=ctx.now,
    )
    answer = Reply(
        "incident.residents.sent",
        {
            "number": incident.number,
            "count": residents,
            "scope": scope,
            "when": Text("incident.residents.now")
            if later is None
            else Text("incident.residents.later", {"at": later}),
        },
    )
    return [answer, *await cards(ctx, incident)]


# ---- closing ------------------------------------------------------------------------------


async def close(ctx: Context, incident_id: int, parts: dict[str, str]) -> list[Reply]:
    """Closed with its short report (what happened, the cause, what was done, losses and
    injuries); the director gets the report."""
    found = await managed_incident(ctx, incident_id)
    if isinstance(found, list):
        return found
    incident, member = found
    missing = rules.missing_report_parts(parts)
    if missing:
        return [
            Reply(
                "incident.close.report_needed",
                {
                    "number": incident.number,
                    "missing": "、".join(
                        ctx.catalogs.text(ctx.locale, f"incident.report.{m}") for m in missing
                    ),
                },
            )
        ]
    report = {name: parts[name].strip()[:900] for name in rules.REPORT_PARTS}
    incident.status = CLOSED
    incident.report = "\n".join(report[name] for name in rules.REPORT_PARTS)
    incident.closed_by = member.name
    incident.closed_at = ctx.now
    add_step(ctx, incident, member, rules.CLOSED, report=report)
    await audit.record(
        ctx.session, actor=ctx.actor, action="incident_closed", target=incident.number, now=ctx.now
    )
    params = {
        **await card_params(ctx, incident),
        "by": member.name,
        "report": report_text(report),
        "minutes": rules.age_minutes(incident.raised_at, ctx.now),
    }
    to_director = [
        Reply("incident.closed.director", params, to=chat)
        for chat in await people_with_role(ctx.session, incident.community_id, "director")
    ]
    answer = Reply("incident.closed.done", {"number": incident.number})
    return [answer, *await cards(ctx, incident), *to_director]


def report_of(incident: Incident) -> dict[str, str]:
    closed = steps_of(incident, rules.CLOSED)
    found = closed[-1].get("report") if closed else None
    return dict(found) if isinstance(found, dict) else {}


def report_text(report: dict[str, str]) -> list[Text]:
    return [
        Text(
            "incident.report.line",
            {"part": Text(f"incident.report.{name}"), "text": report.get(name, "")},
        )
        for name in rules.REPORT_PARTS
    ]


# ---- what is open now ---------------------------------------------------------------------


async def incidents_command(ctx: Context, argument: str) -> list[Reply]:
    """`/incidents`: the open incidents of the sender's communities, each as its card
    (oldest first), so whoever joins late can act on them; `/incident` raises one."""
    communities = [c.id for c in await communities_for(ctx)]
    found = (
        await ctx.session.exec(
            select(Incident)
            .where(Incident.status == OPEN, col(Incident.community_id).in_(communities))
            .order_by(col(Incident.raised_at))
            .limit(LISTED)
        )
    ).all()
    if not found:
        return [Reply("incident.list.none")]
    replies = [Reply("incident.list.head", {"count": len(found)})]
    for incident in found:
        params = await card_params(ctx, incident)
        replies.append(Reply("incident.card", params, choices=card_choices(incident)))
    return replies


# ---- nobody marked it controlled ----------------------------------------------------------


async def uncontrolled_sweep(ctx: Context) -> list[Reply]:
    """Each worker round: an open incident nobody has marked controlled reminds the duty
    supervisor again after half an hour, then the director; each step once."""
    policy = rules.IncidentPolicy()
    since = ctx.now - timedelta(minutes=policy.remind_minutes)
    query = (
        select(Incident)
        .where(Incident.status == OPEN, col(Incident.raised_at) <= since)
        .order_by(col(Incident.raised_at), col(Incident.id))
        .limit(BATCH)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # two workers never remind twice
    replies: list[Reply] = []
    for incident in (await ctx.session.exec(query)).all():
        if is_controlled(incident):
            continue
        sent = {str(e.get("to")) for e in steps_of(incident, rules.REMINDED)}
        due = rules.reminders_due(incident.raised_at, ctx.now, sent, policy)
        for who in due:
            chats = (
                await on_duty(ctx.session, incident.community_id)
                if who == rules.SUPERVISOR
                else await people_with_role(ctx.session, incident.community_id, "director")
            )
            add_step(ctx, incident, None, rules.REMINDED, to=who)
            params = {
                **await card_params(ctx, incident),
                "minutes": rules.age_minutes(incident.raised_at, ctx.now),
            }
            replies += [
                Reply(f"incident.remind.{who}", params, to=chat, urgent=True) for chat in chats
            ]
        if due:
            replies += await cards(ctx, incident)
    return replies
