"""The binding flow (绑定房屋): an invitation code, a shared phone number, or a request.

The first step offers the three ways (a code may also simply be typed there). A shared
contact that matches the roster links the chat at once; one that does not, or a typed
number, goes on as a request for the service desk to verify. The unit of a request is
taken as people type it (`2-1-802`, `2号楼1单元802`); a near miss offers the closest
units to choose from, keeping everything entered so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, chosen
from handlers import binding
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.rules.binding import ROLES, normalise_code
from storage.models import Person, Unit

WAYS = ("code", "contact", "request")


def _code(answers: Answers) -> dict[str, Any] | None:
    """What the code binds to: from the code step, or a code typed at the first step."""
    for name in ("code", "way"):
        if isinstance(answers.get(name), dict):
            return dict(answers[name])
    return None


def _contact(answers: Answers) -> dict[str, Any] | None:
    found = answers.get("contact")
    return dict(found) if isinstance(found, dict) else None


def _requesting(answers: Answers) -> bool:
    if answers.get("way") == "request":
        return True
    contact = _contact(answers)
    return answers.get("way") == "contact" and contact is not None and not contact["person"]


def _asks_name(answers: Answers) -> bool:
    code = _code(answers)
    if code is not None:
        return not answers.get("_has_person") and not code["for_person"]
    return _requesting(answers)


def _community_id(answers: Answers) -> int | None:
    chosen_one = str(answers.get("community", ""))
    if chosen_one.startswith("community:"):
        return int(chosen_one.removeprefix("community:"))
    return answers.get("_community")


async def _refusing(call: Any) -> Any:
    """A handler's `Refused` becomes the step's polite input error."""
    try:
        return await call
    except binding.Refused as refused:
        raise InputError(refused.key, **refused.params) from None


async def _way(answer: Answer, ctx: Context, answers: Answers) -> Any:
    if answer.option:
        return answer.option
    if normalise_code(answer.text or ""):
        return await _refusing(binding.code_details(ctx, answer.text or ""))
    raise InputError("binding.way.error")


# Channels whose app shares a verified phone number (a contact the sender cannot type in);
# on WeChat a number could only be typed, so that way is not offered there.
SHARES_CONTACTS = frozenset({"telegram", "console"})


async def way_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    ways = [w for w in WAYS if w != "contact" or ctx.msg.channel in SHARES_CONTACTS]
    return [Choice(w, f"binding.way.{w}") for w in ways]


async def _invite(answer: Answer, ctx: Context, answers: Answers) -> Any:
    return await _refusing(binding.code_details(ctx, answer.text or ""))


async def _shared(answer: Answer, ctx: Context, answers: Answers) -> Any:
    return await _refusing(binding.contact_details(ctx, answer.contact, answer.text))


async def _unit(answer: Answer, ctx: Context, answers: Answers) -> Any:
    """The unit's id; for a near miss, what was typed and the closest units (asked next)."""
    text = parsers.short_text(answer, ctx, answers)
    found = await _refusing(binding.unit_in(ctx, _community_id(answers), text))
    if isinstance(found, list):
        return {"typed": text[:50], "near": [unit.id for unit in found]}
    return found.id


def _near_miss(answers: Answers) -> bool:
    return isinstance(answers.get("unit"), dict)


def _unit_id(answers: Answers) -> Any:
    """The unit asked for: as typed, or picked among the closest to a near miss."""
    return answers["unit_pick"] if _near_miss(answers) else answers["unit"]


async def _near_units(ctx: Context, answers: Answers) -> Sequence[Choice]:
    offered = [await ctx.session.get(Unit, ref) for ref in answers["unit"]["near"]]
    return [
        Choice(f"unit:{unit.id}", "binding.unit.option", {"unit": unit.label})
        for unit in offered
        if unit is not None
    ]


async def _near_prompt(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"typed": answers["unit"]["typed"]}


async def _pick(answer: Answer, ctx: Context, answers: Answers) -> Any:
    """One of the units offered; a unit typed again exactly is taken too."""
    option = answer.option or ""
    if option.startswith("unit:"):
        ref = row_id(option.removeprefix("unit:"))
        unit = await ctx.session.get(Unit, ref) if ref else None
    else:
        text = parsers.short_text(answer, ctx, answers)
        try:
            found = await binding.unit_in(ctx, _community_id(answers), text)
        except binding.Refused as refused:
            if refused.key != "binding.already":
                raise InputError("binding.unit.pick") from None
            raise InputError(refused.key, **refused.params) from None
        if isinstance(found, list):
            raise InputError("binding.unit.pick")
        unit = found
    if unit is None:
        raise InputError("binding.unit.pick")
    return (await _refusing(binding.not_bound_yet(ctx, unit))).id


async def _communities(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return [
        Choice(f"community:{c.id}", "binding.community.option", {"name": c.name})
        for c in await binding.communities(ctx.session)
    ]


async def _name_lead(ctx: Context, answers: Answers) -> dict[str, Any]:
    """Why a shared number leads to a request: not on the roster, or only typed."""
    contact = _contact(answers)
    if answers.get("way") != "contact" or contact is None:
        return {"lead": ""}
    why = "binding.contact.unknown" if contact["shared"] else "binding.contact.typed"
    return {"lead": Text(why)}


async def _proposed_name(ctx: Context, answers: Answers) -> Any:
    return ctx.person.name if ctx.person else (ctx.identity.display_name or None)


async def _proposed_phone(ctx: Context, answers: Answers) -> Any:
    return ctx.person.phone if ctx.person else None


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """The communities to choose from; a code typed at the menu arrives as `initial`."""
    found = await binding.communities(ctx.session)
    if not found:
        return [Reply("binding.no_community")]
    answers: dict[str, Any] = {"_has_person": ctx.person is not None, "_multi": len(found) > 1}
    if len(found) == 1:
        answers["_community"] = found[0].id
    if initial and normalise_code(initial):
        try:
            answers["way"] = await binding.code_details(ctx, initial)
        except binding.Refused as refused:
            choices = (binding.START_BINDING, binding.TO_MENU)
            return [Reply(refused.key, refused.params, choices=choices)]
    return answers


async def summarize(ctx: Context, answers: Answers) -> dict[str, Any]:
    code, contact = _code(answers), _contact(answers)
    if code is not None:
        params = {"unit": code["unit"], "role": binding.role_text(code["role"])}
        return {"details": Text("binding.summary.code", params)}
    if contact is not None and contact["person"]:
        person = await ctx.session.get(Person, contact["person"])
        params = {"phone": contact["phone"], "name": person.name if person else ""}
        return {"details": Text("binding.summary.contact", params)}
    unit = await ctx.session.get(Unit, _unit_id(answers))
    params = {
        "name": answers["name"],
        "unit": unit.label if unit else "",
        "phone": answers.get("phone") or (contact or {}).get("phone", ""),
        "role": binding.role_text(answers["relation"]),
    }
    return {"details": Text("binding.summary.request", params)}


async def finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    code, contact = _code(answers), _contact(answers)
    if code is not None:
        return await binding.redeem(ctx, code["code"], answers.get("name"))
    if contact is not None and contact["person"]:
        return await binding.link_by_phone(ctx, contact["person"])
    unit = await ctx.session.get(Unit, _unit_id(answers))
    if unit is None:
        return [Reply("dialog.stale")]
    return await binding.submit_request(
        ctx,
        unit=unit,
        name=answers["name"],
        phone=answers.get("phone") or (contact or {})["phone"],
        role=answers["relation"],
    )


BIND = Flow(
    name=binding.BIND_FLOW,
    title="binding.title",
    steps=(
        Step(
            "way",
            "binding.way.prompt",
            parse=_way,
            choices=way_choices,
        ),
        Step("code", "binding.code.prompt", parse=_invite, when=lambda a: a.get("way") == "code"),
        Step(
            "contact",
            "binding.contact.prompt",
            parse=_shared,
            when=lambda a: a.get("way") == "contact",
            request_contact=True,
        ),
        Step(
            "name",
            "binding.name.prompt",
            parse=parsers.name,
            when=_asks_name,
            prefill=_proposed_name,
            prompt_params=_name_lead,
        ),
        Step(
            "community",
            "binding.community.prompt",
            parse=chosen,
            choices=_communities,
            when=lambda a: _requesting(a) and bool(a.get("_multi")),
        ),
        Step("unit", "binding.unit.prompt", parse=_unit, when=_requesting),
        Step(
            "unit_pick",
            "binding.unit.near",
            parse=_pick,
            choices=_near_units,
            prompt_params=_near_prompt,
            when=lambda a: _requesting(a) and _near_miss(a),
        ),
        Step(
            "phone",
            "binding.phone.prompt",
            parse=parsers.phone,
            when=lambda a: _requesting(a) and _contact(a) is None,
            prefill=_proposed_phone,
            request_contact=True,
        ),
        Step(
            "relation",
            "binding.relation.prompt",
            parse=chosen,
            choices=tuple(Choice(r, f"binding.role.{r}") for r in ROLES),
            when=_requesting,
        ),
    ),
    summary="binding.summary",
    summarize=summarize,
    finish=finish,
    start=begin,
)

FEATURE = Feature(
    name="binding",
    flows=[BIND],
    commands=[
        Command("invite", binding.invite_command, roles=STAFF_ROLES),
        Command("units", binding.units_command),
    ],
    actions={binding.Approve: binding.approve, binding.Reject: binding.reject},
    router=binding.route_code,
    on_start=binding.on_start,
    for_staff=[StaffEntry(STAFF_ROLES, "binding.help.invite")],
)
