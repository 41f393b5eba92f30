"""Parcels at the desk (快递代收): the desk's `/parcel` (one line registers a parcel:
`/parcel 2号楼1单元802 张伟 SF1234567890 易碎`; alone, a short flow: unit, recipient,
waybill, notes, photo), `/pickup CODE` or `/pickup 2-1-802` with the hand-over, collecting
for someone and return buttons, a resident's `/parcels` (the desk's waiting list for
staff), and the job behind the reminders and the desk's follow-up task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import parcel_pickup, parcels
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.rules import parcels as rules

# ---- registering: `/parcel` ----------------------------------------------------------


async def _register_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    if not parcels.desk_scopes(ctx):
        return [Reply("parcels.not_desk")]
    command = ctx.msg.command
    line = command[1] if command and command[0] == parcels.REGISTER_FLOW else ""
    if line:
        return await parcels.register_line(ctx, line)
    return {}


async def unit(answer: Answer, ctx: Context, answers: Answers) -> dict[str, Any]:
    typed = bounded_text(answer, 50)
    found = await parcels.find_unit(ctx, typed)
    if isinstance(found, list):
        refused = parcels.unit_not_found(typed, found)
        raise InputError(refused.key, **refused.params)
    return {"id": found.id, "label": found.label}


async def recipient_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    residents = await parcels.residents_of(ctx, answers["unit"]["id"])
    return [Choice(f"name:{p.name}", "parcels.name.option", {"name": p.name}) for p in residents]


def recipient(answer: Answer, ctx: Context, answers: Answers) -> str:
    if answer.option and answer.option.startswith("name:"):
        return answer.option[5:]
    return bounded_text(answer, 100)


def waybill(answer: Answer, ctx: Context, answers: Answers) -> str:
    typed = bounded_text(answer, 60)
    found = rules.read_waybill(typed)
    if found is None:
        raise InputError("parcels.error.waybill", waybill=typed)
    return found


async def _unit_params(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"unit": answers["unit"]["label"]}


def _flags(ctx: Context, note: str) -> tuple[bool, bool]:
    valuable, damaged = parcels.flag_words(ctx)
    low = note.lower()
    return any(w in low for w in valuable), any(w in low for w in damaged)


async def _register_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    note = answers.get("note") or ""
    valuable, damaged = _flags(ctx, note)
    marks = [
        Text(f"parcels.flag.{f}") for f, on in (("valuable", valuable), ("damaged", damaged)) if on
    ]
    found = answers.get("waybill") or ""
    return {
        "unit": answers["unit"]["label"],
        "recipient": answers.get("recipient") or Text("parcels.recipient.unnamed"),
        "waybill": found or "—",
        "courier": parcels.courier_text(rules.guess_courier(found) or "") if found else "—",
        "note": note or "—",
        "marks": parcels.marks_text(marks),
        "photo": Text("parcels.photo.yes") if answers.get("photo") else "",
    }


async def _register_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    note = answers.get("note") or ""
    valuable, damaged = _flags(ctx, note)
    _, replies = await parcels.register(
        ctx,
        parcels.Registration(
            unit_id=answers["unit"]["id"],
            recipient=answers.get("recipient") or "",
            waybill=answers.get("waybill") or "",
            note=note,
            valuable=valuable,
            damaged=damaged,
            photo=answers.get("photo"),
        ),
    )
    return replies


REGISTER = Flow(
    name=parcels.REGISTER_FLOW,
    title="parcels.register.title",
    steps=(
        Step("unit", "parcels.prompt.unit", parse=unit),
        Step(
            "recipient",
            "parcels.prompt.recipient",
            parse=recipient,
            choices=recipient_choices,
            optional=True,
            prompt_params=_unit_params,
        ),
        Step("waybill", "parcels.prompt.waybill", parse=waybill, optional=True),
        Step("note", "parcels.prompt.note", parse=parsers.short_text, optional=True),
        Step("photo", "parcels.prompt.photo", parse=parsers.photo, optional=True),
    ),
    summary="parcels.register.summary",
    summarize=_register_summary,
    finish=_register_finish,
    start=_register_start,
    in_menu=False,
    in_groups=True,
)

# ---- collected for the resident by someone else --------------------------------------


async def _proxy_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await parcel_pickup.may_hand(ctx, row_id(initial or "") or 0)
    if isinstance(found, list):
        return found
    parcel, _ = found
    return {"_parcel": parcel.id, "_code": parcel.code, "_recipient": parcel.recipient}


async def _proxy_params(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"recipient": answers["_recipient"] or Text("parcels.recipient.unnamed")}


def identity(answer: Answer, ctx: Context, answers: Answers) -> str:
    found = rules.read_identity(bounded_text(answer, 60))
    if found is None:
        raise InputError("parcels.error.identity")
    return found.masked


async def _proxy_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "code": answers["_code"],
        "recipient": answers["_recipient"] or Text("parcels.recipient.unnamed"),
        "collector": answers["collector"],
        "identity": answers["identity"],
    }


async def _proxy_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await parcel_pickup.collect(
        ctx, answers["_parcel"], collector=answers["collector"], identity=answers["identity"]
    )


PROXY = Flow(
    name=parcels.PROXY_FLOW,
    title="parcels.proxy.title",
    steps=(
        Step(
            "collector",
            "parcels.prompt.collector",
            parse=parsers.short_text,
            prompt_params=_proxy_params,
        ),
        Step("identity", "parcels.prompt.identity", parse=identity),
    ),
    summary="parcels.proxy.summary",
    summarize=_proxy_summary,
    finish=_proxy_finish,
    start=_proxy_start,
    in_menu=False,
    in_groups=True,
)

FEATURE = Feature(
    name="parcels",
    flows=[REGISTER, PROXY],
    commands=[
        Command("pickup", parcel_pickup.pickup_command, roles=STAFF_ROLES),
        Command("parcels", parcels.parcels_command),
    ],
    actions={
        parcel_pickup.Hand: parcel_pickup.hand,
        parcel_pickup.SendBack: parcel_pickup.send_back,
    },
    jobs={parcels.WATCH_JOB: parcels.watch_job},
    for_staff=[StaffEntry(STAFF_ROLES, "parcels.help.desk")],
)
