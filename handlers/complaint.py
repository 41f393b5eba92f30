"""Complaints (投诉): the summary, the ticket with its proposed kind, severity and deadlines,
who is told at once, and staff confirming or changing the proposal on the card.

The card goes to the responsible department's group and to the service desk, which
tracks every complaint; important ones also to the supervisors, major ones to the office
director, and damage still happening at once to whoever is on duty. A complaint is
answered when an answer reached the resident: relayed from the card's "answer" button or
`/answer`, or a phone call recorded there; until then it climbs when its answer-by
time passes. Only the service desk and managers may confirm or change the kind
and severity; the card is sent again after each change, so a complaint raised to major
reaches the director then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from handlers import renovation_watch, repair
from handlers.cards import card_choices
from handlers.core.actions import OnTicket
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.directory import community_of, department_chats, people_with_role, ticket_resident
from handlers.duty import on_duty
from handlers.policies import complaint_policy, for_community
from handlers.rules.complaint import (
    DEFAULT_DEPARTMENT,
    DEPARTMENTS,
    KINDS,
    SEVERITIES,
    Deadlines,
    classify,
    deadlines,
    department_for,
)
from handlers.rules.lifecycle import OPEN
from handlers.rules.phone import mask_phone
from handlers.staffauth import acting_member
from handlers.work_orders import urgency_of
from storage import audit, tickets
from storage.models import Department, StaffMember, Ticket, TicketKind, Unit

if TYPE_CHECKING:
    from bot.settings import Settings

CLASS_WORDS = {
    "major": "complaint.words.major",
    "important": "complaint.words.important",
    "valid": "complaint.words.valid",
    "help_seeking": "complaint.words.help_seeking",
    "inquiry": "complaint.words.inquiry",
    "venting": "complaint.words.venting",
}
DEPARTMENT_WORDS = {
    "repair": "complaint.words.dept.repair",
    "security": "complaint.words.dept.security",
    "cleaning": "complaint.words.dept.cleaning",
    "greening": "complaint.words.dept.greening",
    "service": "complaint.words.dept.service",
}
KIND_LABELS = {
    "valid": "complaint.kind.valid",
    "help_seeking": "complaint.kind.help_seeking",
    "inquiry": "complaint.kind.inquiry",
    "venting": "complaint.kind.venting",
}
SEVERITY_LABELS = {
    "major": "complaint.severity.major",
    "important": "complaint.severity.important",
    "minor": "complaint.severity.minor",
}
WHO_LABELS = {
    "repair": "complaint.who.repair",
    "security": "complaint.who.security",
    "cleaning": "complaint.who.cleaning",
    "greening": "complaint.who.greening",
    "service": "complaint.who.service",
    "other": "complaint.who.other",
}
WHEN_LABELS = {
    "just_now": "complaint.when.just_now",
    "today": "complaint.when.today",
    "earlier": "complaint.when.earlier",
}
WANT_LABELS = {
    "fix": "complaint.want.fix",
    "answer": "complaint.want.answer",
    "apology": "complaint.want.apology",
}


def word_lists(ctx: Context, keys: Mapping[str, str]) -> dict[str, set[str]]:
    """Keyword lists from the catalogs, every language's together."""
    return {name: ctx.catalogs.words(key) for name, key in keys.items()}


async def begin(ctx: Context, initial: str | None) -> dict[str, Any]:
    """Start with "what happened" filled in when the complaint came as free text."""
    if initial and 2 <= len(initial.strip()) <= 1000:
        return {"what": initial.strip()}
    return {}


def labelled(value: Any, prefix: str, labels: Mapping[str, str]) -> Any:
    """A chosen option (`when:today`) as its label; typed words as they are."""
    text = str(value or "")
    if text.startswith(prefix) and text[len(prefix) :] in labels:
        return Text(labels[text[len(prefix) :]])
    return text


async def _unit(ctx: Context, answers: Mapping[str, Any]) -> Unit | None:
    value = str(answers.get("where", ""))
    unit_id = row_id(value[5:]) if value.startswith("unit:") else None
    if unit_id is None:
        return None
    allowed = {unit.id for unit in await repair.units_for(ctx)}
    return await ctx.session.get(Unit, unit_id) if unit_id in allowed else None


async def summarize(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    unit = await _unit(ctx, answers)
    deadline = answers.get("deadline")
    return {
        "what": answers["what"],
        "when": labelled(answers["when"], "when:", WHEN_LABELS),
        "where": unit.label if unit else answers["where"],
        "who": labelled(answers["who"], "dept:", WHO_LABELS),
        "want": labelled(answers["want"], "want:", WANT_LABELS),
        "photos": len(answers.get("photos") or []),
        "deadline": date.fromisoformat(deadline) if deadline else Text("complaint.no_deadline"),
        "name": answers["name"],
        "phone": answers["phone"],
    }


def department_of(ctx: Context, answers: Mapping[str, Any]) -> str:
    """The department named, else guessed from the words of "who" and "what happened"."""
    who = str(answers.get("who", ""))
    if who.startswith("dept:") and who[5:] in DEPARTMENTS:
        return who[5:]
    words = word_lists(ctx, DEPARTMENT_WORDS)
    guess = department_for(_plain(who), words)
    if guess != DEFAULT_DEPARTMENT:
        return guess
    return department_for(str(answers.get("what", "")), words)


def _plain(value: Any) -> str:
    """Typed words count for classifying; chosen options do not."""
    text = str(value or "")
    return "" if text.startswith(("dept:", "want:", "when:", "unit:")) else text


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _deadline_details(due: Deadlines) -> dict[str, str | None]:
    return {
        "escalate_by": _iso(due.escalate_by),
        "answer_by": _iso(due.answer_by),
        "solve_by": _iso(due.solve_by),
    }


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """Register the complaint, tell whoever must know, and tell the resident who answers when."""
    unit = await _unit(ctx, answers)
    community = await community_of(ctx)
    if community is None or community.id is None:
        return [Reply("complaint.no_community")]
    text = " ".join(_plain(answers.get(k)) for k in ("what", "who", "want", "where"))
    happening = urgency_of(ctx, "", text)
    proposal = classify(text, word_lists(ctx, CLASS_WORDS), happening.urgent)
    own = date.fromisoformat(answers["deadline"]) if answers.get("deadline") else None
    community_id = unit.community_id if unit else community.id
    policy = await for_community(ctx.session, ctx.settings, community_id)
    due = _deadlines(policy, proposal.severity, ctx.now, own, proposal.urgent)
    department = department_of(ctx, answers)
    photos = list(answers.get("photos") or [])
    ticket = await tickets.create_ticket(
        ctx.session,
        community_id=community_id,
        kind=TicketKind.complaint,
        department=department,
        actor=ctx.actor,
        now=ctx.now,
        tz=ctx.settings.tz,
        unit_id=unit.id if unit else None,
        person_id=ctx.person.id if ctx.person else None,
        channel=ctx.msg.channel,
        chat_id=ctx.msg.chat_id,
        contact_name=answers["name"],
        contact_phone=answers["phone"],
        description=answers["what"],
        urgent=proposal.urgent,
        due_at=due.solve_by,
        details={
            "when": answers["when"],
            "location": "" if unit else answers["where"],
            "who": answers["who"],
            "want": answers["want"],
            "photos": photos,
            "kind": proposal.kind,
            "severity": proposal.severity,
            "urgent": proposal.urgent,
            "own_deadline": own.isoformat() if own else None,
            "confirmed": [],
            **({"emergency": happening.emergency} if happening.emergency else {}),
            **_deadline_details(due),
        },
    )
    tickets.attach_photos(ctx.session, ticket, ctx.msg.channel, photos, ctx.now)
    # About a neighbour's renovation: linked to it and its watchers told; it goes on as usual.
    linked = await renovation_watch.link_complaint(ctx, ticket)
    return [_resident_reply(policy, ticket, due), *await card_pushes(ctx, ticket), *linked]


def _deadlines(
    policy: Settings, severity: str, created_at: datetime, own: date | None, urgent: bool
) -> Deadlines:
    """The complaint's deadlines by its community's policy; damage still happening is
    answered in minutes, not days."""
    return deadlines(
        severity,
        created_at,
        own,
        policy.tz,
        timedelta(minutes=policy.urgent_contact_minutes) if urgent else None,
        complaint_policy(policy),
    )


def _resident_reply(policy: Settings, ticket: Ticket, due: Deadlines) -> Reply:
    """Thanks, an apology, who contacts them and by when; no promise of an outcome."""
    department = Text(WHO_LABELS[ticket.department])
    params = {"number": ticket.number, "department": department, "answer_by": due.answer_by}
    if ticket.urgent:
        kind = ticket.details.get("emergency")
        advice = Text("complaint.urgent.advice", {"advice": Text(f"emergency.advice.{kind}")})
        return Reply(
            "complaint.created.urgent",
            {
                **params,
                "minutes": policy.urgent_contact_minutes,
                "solve_by": due.solve_by,
                "advice": advice if kind else "",
                "director": Text("complaint.urgent.director")
                if ticket.details.get("severity") == "major"
                else "",
            },
        )
    if due.solve_by != due.answer_by:
        return Reply("complaint.created.answer_first", {**params, "solve_by": due.solve_by})
    return Reply("complaint.created", params)


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def card_params(ctx: Context, ticket: Ticket) -> dict[str, Any]:
    """What staff see of a complaint; the resident's phone is masked."""
    d = ticket.details
    unit = await ctx.session.get(Unit, ticket.unit_id) if ticket.unit_id else None
    confirmed = set(d.get("confirmed", []))

    def state(field: str) -> Text:
        return Text("complaint.card.confirmed" if field in confirmed else "complaint.card.proposed")

    own = d.get("own_deadline")
    assignee = (
        await ctx.session.get(StaffMember, ticket.assignee_id) if ticket.assignee_id else None
    )
    return {
        "number": ticket.number,
        "status": Text(f"status.{ticket.status}"),
        "urgent": Text("complaint.card.urgent") if ticket.urgent else "",
        "kind": Text(KIND_LABELS[d["kind"]]),
        "kind_state": state("kind"),
        "severity": Text(SEVERITY_LABELS[d["severity"]]),
        "severity_state": state("severity"),
        "department": Text(WHO_LABELS[ticket.department]),
        "what": ticket.description,
        "when": labelled(d.get("when"), "when:", WHEN_LABELS),
        "where": unit.label if unit else d.get("location", ""),
        "who": labelled(d.get("who"), "dept:", WHO_LABELS),
        "want": labelled(d.get("want"), "want:", WANT_LABELS),
        "photos": len(d.get("photos", [])),
        "own_deadline": date.fromisoformat(own) if own else Text("complaint.no_deadline"),
        "name": ticket.contact_name,
        "phone": mask_phone(ticket.contact_phone),
        "escalate_by": _moment(d.get("escalate_by")),
        "answer_by": _moment(d.get("answer_by")),
        "solve_by": _moment(d.get("solve_by")),
        "assignee": assignee.name if assignee else Text("card.nobody"),
    }


def card_buttons(ticket: Ticket) -> tuple[Choice, ...]:
    """Confirm or change the kind and the severity; the current ones are marked."""
    d = ticket.details
    kinds = [
        SetKind(ticket.id or 0, kind).choice(
            "complaint.button.kind",
            label=Text(KIND_LABELS[kind]),
            mark="✓ " if d.get("kind") == kind else "",
        )
        for kind in KINDS
    ]
    severities = [
        SetSeverity(ticket.id or 0, severity).choice(
            "complaint.button.severity",
            label=Text(SEVERITY_LABELS[severity]),
            mark="✓ " if d.get("severity") == severity else "",
        )
        for severity in SEVERITIES
    ]
    # The usual task buttons (accept, start, done …) come first: a complaint is worked
    # like any other ticket, and the outcome goes back to the resident.
    answering = (
        (Choice(f"flow:complaint_answer:{ticket.id}", "complaint.button.answer"),)
        if ticket.status in OPEN
        else ()
    )
    return (*card_choices(ticket), *answering, *kinds, *severities)


async def recipients(ctx: Context, ticket: Ticket) -> list[tuple[Recipient, bool]]:
    """Who gets the card, and whether they get the classification buttons."""
    session, community = ctx.session, ticket.community_id
    severity = ticket.details.get("severity")
    found: list[tuple[Recipient, bool]] = [
        (chat, ticket.department == Department.service)
        for chat in await department_chats(session, community, ticket.department)
    ]
    if ticket.department != Department.service:
        found += [(chat, True) for chat in await department_chats(session, community, "service")]
    if ticket.urgent:  # damage happening now: whoever is on duty, quiet hours or not
        found += [(r, True) for r in await on_duty(session, community)]
    if severity in ("important", "major") or not found:
        found += [(r, True) for r in await people_with_role(session, community, "supervisor")]
    if severity == "major":
        found += [(r, True) for r in await people_with_role(session, community, "director")]
    seen: set[tuple[str, str]] = set()
    unique = []
    for chat, buttons in found:
        if (chat.channel, chat.chat_id) not in seen:
            seen.add((chat.channel, chat.chat_id))
            unique.append((chat, buttons))
    return unique


async def card_pushes(ctx: Context, ticket: Ticket) -> list[Reply]:
    """The complaint's card for everyone who must see it; channels edit it in place."""
    params = await card_params(ctx, ticket)
    buttons = card_buttons(ticket)
    photos = ticket.details.get("photos") or []
    return [
        Reply(
            "complaint.card",
            params,
            choices=buttons if with_buttons else (),
            to=chat,
            card=f"ticket:{ticket.id}",
            photo=photos[0] if photos else None,
            # A major complaint reaches the director the same day, quiet hours or not.
            urgent=ticket.urgent or ticket.details.get("severity") == "major",
        )
        for chat, with_buttons in await recipients(ctx, ticket)
    ]


@dataclass(frozen=True)
class SetKind(OnTicket):
    """The service desk confirms or changes the complaint's kind."""

    name: ClassVar[str] = "cmp_kind"
    kind: str


@dataclass(frozen=True)
class SetSeverity(OnTicket):
    """The service desk confirms or changes the severity; the deadlines follow."""

    name: ClassVar[str] = "cmp_sev"
    severity: str


async def set_kind(ctx: Context, action: SetKind) -> list[Reply]:
    return await _reclassify(ctx, action.ticket, "kind", action.kind, KINDS)


async def set_severity(ctx: Context, action: SetSeverity) -> list[Reply]:
    return await _reclassify(ctx, action.ticket, "severity", action.severity, SEVERITIES)


async def _reclassify(
    ctx: Context, ref: int, field: str, value: str, allowed: tuple[str, ...]
) -> list[Reply]:
    ticket = await ctx.session.get(Ticket, ref)
    if ticket is None or ticket.kind != TicketKind.complaint or value not in allowed:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, ticket.community_id, Department.service)
    if member is None:
        return [Reply("dialog.not_allowed")]
    before = ticket.details.get(field)
    details = dict(ticket.details)
    details[field] = value
    details["confirmed"] = sorted({*details.get("confirmed", []), field})
    if field == "severity":
        own = details.get("own_deadline")
        policy = await for_community(ctx.session, ctx.settings, ticket.community_id)
        due = _deadlines(
            policy,
            value,
            ticket.created_at,
            date.fromisoformat(own) if own else None,
            ticket.urgent,
        )
        details.update(_deadline_details(due))
        ticket.due_at = due.solve_by
    ticket.details = details
    ctx.session.add(ticket)
    change = {"from": before, "to": value}
    await tickets.record_change(
        ctx.session, ticket, actor=ctx.actor, action=f"complaint_{field}", now=ctx.now, data=change
    )
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action=f"complaint_{field}",
        target=ticket.number,
        detail=change,
        now=ctx.now,
    )
    label = KIND_LABELS[value] if field == "kind" else SEVERITY_LABELS[value]
    ack = Reply(
        "complaint.classified",
        {"number": ticket.number, "value": Text(label), "name": member.name},
    )
    return [ack, *await card_pushes(ctx, ticket)]


ANSWER_WAYS = ("message", "phone")


async def answerable(ctx: Context, ticket_id: int | None) -> tuple[Ticket, StaffMember] | Reply:
    """An open complaint the sender may answer: its department, the service desk, managers."""
    ticket = await ctx.session.get(Ticket, ticket_id) if ticket_id else None
    if ticket is None or ticket.kind != TicketKind.complaint:
        return Reply("dialog.stale")
    member = acting_member(ctx, ticket.community_id, ticket.department) or acting_member(
        ctx, ticket.community_id, Department.service
    )
    if member is None:
        return Reply("dialog.not_allowed")
    if ticket.status not in OPEN:
        return Reply(
            "task.not_now", {"number": ticket.number, "status": Text(f"status.{ticket.status}")}
        )
    return ticket, member


async def answer(
    ctx: Context, ticket: Ticket, member: StaffMember, how: str, text: str
) -> list[Reply]:
    """Record that the resident got an answer: relayed to them now, or given by phone."""
    first = "answered_at" not in ticket.details
    ticket.details = (
        {**ticket.details, "answered_at": ctx.now.isoformat()} if first else ticket.details
    )
    action = "answered" if how == "message" else "contacted"
    await tickets.record_change(
        ctx.session,
        ticket,
        actor=f"staff:{member.id}",
        action=action,
        now=ctx.now,
        note=text[:2000],
    )
    await audit.record(
        ctx.session,
        actor=f"staff:{member.id}",
        action=f"complaint_{action}",
        target=ticket.number,
        now=ctx.now,
    )
    relayed = []
    if how == "message":
        relayed = [
            Reply(
                "complaint.answer.relayed",
                {
                    "number": ticket.number,
                    "department": Text(WHO_LABELS[ticket.department]),
                    "text": text,
                },
                to=chat,
            )
            for chat in await ticket_resident(ctx.session, ticket)
        ]
    done = Reply(
        f"complaint.answer.recorded.{how}", {"number": ticket.number, "told": len(relayed)}
    )
    return [done, *relayed, *await card_pushes(ctx, ticket)]
