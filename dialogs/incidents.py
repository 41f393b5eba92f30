"""Emergencies raised by staff (突发事件): `/incident` (the kind, the building or a place
typed, what is happening, photos; sent at once), the card's progress note, telling the
residents in one step, and closing with a short report (handlers/incidents.py); the sweep
that reminds when nobody has marked one controlled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import announce, incidents
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.rules import incidents as rules
from storage.models import Building, Community, Incident

TYPED = "place:"

# ---- raising ------------------------------------------------------------------------------


async def _raise_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    communities = await incidents.communities_for(ctx)
    if not communities:
        return [Reply("incident.staff_only")]
    if len(communities) == 1:
        return {"_community": communities[0].id}
    return {}


def community_of(answers: Answers) -> int:
    return int(answers.get("_community") or answers["community"])


async def _community_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return [
        Choice(f"community:{c.id}", "incident.community.option", {"name": c.name})
        for c in await incidents.communities_for(ctx)
    ]


def _community(answer: Answer, ctx: Context, answers: Answers) -> int:
    chosen = row_id((answer.option or "").removeprefix("community:"))
    if chosen is None:
        raise InputError("dialog.error.choose")
    return chosen


def _kind(answer: Answer, ctx: Context, answers: Answers) -> str:
    kind = (answer.option or "").removeprefix("kind:")
    if kind not in rules.KINDS:
        raise InputError("dialog.error.choose")
    return kind


async def _place_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return [
        Choice(f"building:{b.id}", "incident.place.building", {"building": b.name})
        for b in await announce.buildings_of(ctx.session, community_of(answers))
    ]


def _place(answer: Answer, ctx: Context, answers: Answers) -> str:
    """A building chosen, or the place typed (`地下车库B区`)."""
    if answer.option and answer.option.startswith("building:"):
        return answer.option
    return TYPED + bounded_text(answer, 200)


def _building(answers: Answers) -> int | None:
    value = str(answers.get("place") or "")
    return row_id(value.removeprefix("building:")) if value.startswith("building:") else None


def _place_text(answers: Answers) -> str:
    value = str(answers.get("place") or "")
    if value.startswith(TYPED):
        return value[len(TYPED) :]
    return str(answers.get("spot") or "")


async def _raise_params(ctx: Context, answers: Answers) -> dict[str, Any]:
    kind = answers.get("kind")
    return {"kind": Text(f"incident.kind.{kind}") if kind else ""}


async def _raise_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await incidents.raise_incident(
        ctx,
        community_id=community_of(answers),
        kind=str(answers["kind"]),
        building_id=_building(answers),
        place=_place_text(answers),
        description=str(answers["description"]),
        photos=list(answers.get("photos") or []),
    )


RAISE = Flow(
    name=incidents.FLOW,
    title="incident.title",
    steps=(
        Step(
            "community",
            "incident.community.prompt",
            parse=_community,
            choices=_community_choices,
            when=lambda a: not a.get("_community"),
        ),
        Step(
            "kind",
            "incident.kind.prompt",
            parse=_kind,
            choices=tuple(Choice(f"kind:{k}", f"incident.kind.{k}") for k in rules.KINDS),
        ),
        Step(
            "place",
            "incident.place.prompt",
            parse=_place,
            choices=_place_choices,
            prompt_params=_raise_params,
        ),
        Step(
            "spot",
            "incident.spot.prompt",
            parse=parsers.short_text,
            optional=True,
            when=lambda a: str(a.get("place") or "").startswith("building:"),
        ),
        Step("description", "incident.description.prompt", parse=parsers.description),
        Step("photos", "incident.photos.prompt", parse=parsers.photo, many=True, optional=True),
    ),
    summary="incident.title",
    summarize=_raise_params,
    finish=_raise_finish,
    start=_raise_start,
    in_menu=False,
    confirm=False,  # an emergency is not a form to confirm: it goes when the photos are done
    in_groups=True,
)

# ---- a progress note ----------------------------------------------------------------------


async def _note_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await incidents.open_incident(ctx, row_id(initial or ""))
    if isinstance(found, list):
        return found
    return {"_incident": found[0].id, "_number": found[0].number}


async def _numbered(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"number": answers.get("_number", "")}


async def _note_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await incidents.add_progress(
        ctx, int(answers["_incident"]), str(answers["note"]), list(answers.get("photos") or [])
    )


NOTE = Flow(
    name=incidents.NOTE_FLOW,
    title="incident.note.title",
    steps=(
        Step("note", "incident.note.prompt", parse=parsers.description, prompt_params=_numbered),
        Step("photos", "incident.photos.prompt", parse=parsers.photo, many=True, optional=True),
    ),
    summary="incident.note.title",
    summarize=_numbered,
    finish=_note_finish,
    start=_note_start,
    in_menu=False,
    confirm=False,
    in_groups=True,
)

# ---- telling the residents ----------------------------------------------------------------


async def _notify_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await incidents.managed_incident(ctx, row_id(initial or ""))
    if isinstance(found, list):
        return found
    incident = found[0]
    return {
        "_incident": incident.id,
        "_number": incident.number,
        "_community": incident.community_id,
        "_building": incident.building_id,
        "_urgent": rules.residents_urgent(incident.kind),
    }


async def _scope_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    community = await ctx.session.get(Community, answers["_community"])
    assert community is not None
    choices = []
    if answers.get("_building"):
        building = await ctx.session.get(Building, answers["_building"])
        if building is not None:
            choices.append(
                Choice(
                    f"scope:{building.id}", "incident.scope.building", {"building": building.name}
                )
            )
    choices.append(
        Choice(f"scope:{incidents.WHOLE}", "incident.scope.all", {"community": community.name})
    )
    return choices


async def _scope(answer: Answer, ctx: Context, answers: Answers) -> Any:
    value = (answer.option or "").removeprefix("scope:")
    building_id = None if value == incidents.WHOLE else row_id(value)
    if building_id is None and value != incidents.WHOLE:
        raise InputError("dialog.error.choose")
    reached = await announce.audience(ctx.session, answers["_community"], building_id)
    if reached.chats == 0:
        raise InputError("incident.residents.nobody")
    return incidents.WHOLE if building_id is None else building_id


def _words(answer: Answer, ctx: Context, answers: Answers) -> str:
    return bounded_text(answer, 500, minimum=2)


def _urgency_choices_of(urgent: bool) -> tuple[Choice, ...]:
    now = Choice("urgent:yes", "incident.urgency.now", {"advised": "⭐" if urgent else ""})
    later = Choice("urgent:no", "incident.urgency.later", {"advised": "" if urgent else "⭐"})
    return (now, later) if urgent else (later, now)


async def _urgency_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return _urgency_choices_of(bool(answers.get("_urgent")))


def _urgency(answer: Answer, ctx: Context, answers: Answers) -> bool:
    if answer.option not in ("urgent:yes", "urgent:no"):
        raise InputError("dialog.error.choose")
    return answer.option == "urgent:yes"


def _building_of_scope(answers: Answers) -> int | None:
    scope = answers.get("scope")
    return None if scope in (None, incidents.WHOLE) else int(scope)


async def _notify_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    community = await ctx.session.get(Community, answers["_community"])
    assert community is not None
    building_id = _building_of_scope(answers)
    reached = await announce.audience(ctx.session, community.id or 0, building_id)
    return {
        "number": answers["_number"],
        "text": answers["text"],
        "scope": await incidents.scope_name(ctx, community, building_id),
        "count": reached.residents,
        "how": Text(
            "incident.residents.urgent" if answers.get("urgent") else "incident.residents.quiet"
        ),
    }


async def _notify_params(ctx: Context, answers: Answers) -> dict[str, Any]:
    incident = await ctx.session.get(Incident, answers["_incident"])
    kind = Text(f"incident.kind.{incident.kind}") if incident else ""
    return {"number": answers["_number"], "kind": kind}


async def _notify_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await incidents.notify_residents(
        ctx,
        int(answers["_incident"]),
        _building_of_scope(answers),
        str(answers["text"]),
        bool(answers["urgent"]),
    )


NOTIFY = Flow(
    name=incidents.NOTIFY_FLOW,
    title="incident.notify.title",
    steps=(
        Step(
            "scope",
            "incident.scope.prompt",
            parse=_scope,
            choices=_scope_choices,
            prompt_params=_numbered,
        ),
        Step("text", "incident.text.prompt", parse=_words, prompt_params=_notify_params),
        Step("urgent", "incident.urgency.prompt", parse=_urgency, choices=_urgency_choices),
    ),
    summary="incident.notify.summary",
    summarize=_notify_summary,
    finish=_notify_finish,
    start=_notify_start,
    in_menu=False,
    in_groups=True,  # refused politely in a group to anyone but the managers and the desk
)

# ---- closing with a report ----------------------------------------------------------------


async def _close_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await incidents.managed_incident(ctx, row_id(initial or ""))
    if isinstance(found, list):
        return found
    return {"_incident": found[0].id, "_number": found[0].number}


def _part(minimum: int) -> Any:
    def parse(answer: Answer, ctx: Context, answers: Answers) -> str:
        return bounded_text(answer, 900, minimum=minimum)

    return parse


async def _close_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    report = {name: str(answers.get(name) or "") for name in rules.REPORT_PARTS}
    return {"number": answers["_number"], "report": incidents.report_text(report)}


async def _close_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    parts = {name: str(answers.get(name) or "") for name in rules.REPORT_PARTS}
    return await incidents.close(ctx, int(answers["_incident"]), parts)


CLOSE = Flow(
    name=incidents.CLOSE_FLOW,
    title="incident.close.title",
    steps=tuple(
        Step(
            name,
            f"incident.close.prompt.{name}",
            parse=_part(1 if name == "losses" else 2),
            prompt_params=_numbered,
        )
        for name in rules.REPORT_PARTS
    ),
    summary="incident.close.summary",
    summarize=_close_summary,
    finish=_close_finish,
    start=_close_start,
    in_menu=False,
    in_groups=True,
)

FEATURE = Feature(
    name="incidents",
    flows=[RAISE, NOTE, NOTIFY, CLOSE],
    actions={
        incidents.Take: incidents.take,
        incidents.Arrive: incidents.arrive,
        incidents.Controlled: incidents.controlled,
    },
    commands=[Command("incidents", incidents.incidents_command, roles=STAFF_ROLES)],
    sweeps=[incidents.uncontrolled_sweep],
    for_staff=[
        StaffEntry(
            STAFF_ROLES, "incident.help", menu=Choice(f"flow:{incidents.FLOW}", "incident.menu")
        ),
    ],
)
