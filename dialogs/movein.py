"""Move-in (入住): the desk's `/movein <unit>` card and the short flows behind its buttons
(a paper's photo, the household, the fees, the keys, the re-inspection's time), the repair
group's inspection flows (the base readings, a defect), and the owner's buttons (readings
agreed, sign-off); the desk's cancellation, with why. The use-cases are in
handlers/movein.py and its movein_* modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text, chosen
from handlers import (
    movein,
    movein_actions,
    movein_cancel,
    movein_checklist,
    movein_inspection,
    movein_papers,
    movein_record,
    movein_reinspection,
)
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.rules import movein as rules
from handlers.rules import readings as reading_rules
from storage.models import Person


async def _desk_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await movein_record.open_one(ctx, initial or "")
    if isinstance(found, Reply):
        return [found]
    return {"_move_in": found.id}


async def _repair_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await movein_record.open_one(ctx, initial or "", desk=False)
    if isinstance(found, Reply):
        return [found]
    if found.inspection_ticket_id is None:
        return [Reply("movein.stale")]
    return {"_move_in": found.id, "_unit": found.unit_id}


async def _move_in(ctx: Context, answers: Answers) -> Any:
    found = await movein_record.open_one(ctx, answers["_move_in"], desk="_unit" not in answers)
    return found


async def _summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {}


# ---- a paper -------------------------------------------------------------------------------


async def paper_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    found = await _move_in(ctx, answers)
    if isinstance(found, Reply):
        return ()
    owner = await ctx.session.get(Person, found.owner_id) if found.owner_id else None
    needs = rules.paper_needs(bool(owner and owner.is_company), found.delegate_id is not None)
    kinds = [kind for need in needs for kind in need]
    return [Choice(f"paper:{kind}", f"movein.paper.{kind}") for kind in kinds]


async def _paper_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    found = await _move_in(ctx, answers)
    if isinstance(found, Reply):
        return [found]
    kind = str(answers["kind"]).removeprefix("paper:")
    if kind not in rules.PAPER_KINDS:
        return [Reply("movein.stale")]
    await movein_papers.add_paper(ctx, found, kind, file_ref=answers["photo"])
    return [
        Reply("movein.paper.kept", {"paper": Text(f"movein.paper.{kind}")}),
        await movein.card(ctx, found),
    ]


PAPER = Flow(
    name="movein_paper",
    title="movein.paper.title",
    steps=(
        Step("kind", "movein.paper.kind", parse=chosen, choices=paper_choices),
        Step("photo", "movein.paper.photo", parse=parsers.photo),
    ),
    summary="movein.summary",
    summarize=_summary,
    finish=_paper_finish,
    start=_desk_start,
    in_menu=False,
    confirm=False,
)


# ---- the household registration ------------------------------------------------------------


def _refused(found: Text) -> InputError:
    return InputError(found.key, **found.params)


def household(answer: Answer, ctx: Context, answers: Answers) -> list[list[Any]]:
    found = movein_checklist.read_household(bounded_text(answer, 500))
    if isinstance(found, Text):
        raise _refused(found)
    return [[name, phone] for name, phone in found]


async def _household_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    found = await _move_in(ctx, answers)
    if isinstance(found, Reply):
        return [found]
    people = await movein_checklist.register_household(
        ctx, found, [(name, phone) for name, phone in answers["members"]]
    )
    return [
        Reply("movein.household.done", {"count": len(people)}),
        await movein.card(ctx, found),
    ]


HOUSEHOLD = Flow(
    name="movein_household",
    title="movein.household.title",
    steps=(Step("members", "movein.household.prompt", parse=household),),
    summary="movein.summary",
    summarize=_summary,
    finish=_household_finish,
    start=_desk_start,
    in_menu=False,
    confirm=False,
)


# ---- the fees ------------------------------------------------------------------------------


def amount(answer: Answer, ctx: Context, answers: Answers) -> str:
    found = movein_checklist.read_fee_amount(bounded_text(answer, 20))
    if isinstance(found, Text):
        raise _refused(found)
    return str(found)


def receipt(answer: Answer, ctx: Context, answers: Answers) -> str:
    found = movein_checklist.read_receipt(bounded_text(answer, 60))
    if isinstance(found, Text):
        raise _refused(found)
    return found


async def _fee_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    found = await _move_in(ctx, answers)
    if isinstance(found, Reply):
        return [found]
    done = await movein_checklist.collect_fee(
        ctx, found, Decimal(answers["amount"]), answers["receipt"]
    )
    if isinstance(done, str):
        return [Reply(done, {"receipt": answers["receipt"]}), await movein.card(ctx, found)]
    return [
        Reply("movein.fee.done", {"receipt": answers["receipt"]}),
        await movein.card(ctx, found),
        *done,
    ]


FEE = Flow(
    name="movein_fee",
    title="movein.fee.title",
    steps=(
        Step("amount", "movein.fee.amount", parse=amount, numeric=True),
        Step("receipt", "movein.fee.receipt", parse=receipt),
    ),
    summary="movein.summary",
    summarize=_summary,
    finish=_fee_finish,
    start=_desk_start,
    in_menu=False,
    confirm=False,
)


# ---- the keys ------------------------------------------------------------------------------


def key_count(answer: Answer, ctx: Context, answers: Answers) -> int:
    found = movein_checklist.read_key_count(bounded_text(answer, 10))
    if isinstance(found, Text):
        raise _refused(found)
    return found


async def _keys_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    found = await _move_in(ctx, answers)
    if isinstance(found, Reply):
        return [found]
    movein_checklist.keys_handed(ctx, found, answers["count"], answers["which"])
    ctx.session.add(found)
    return [await movein.card(ctx, found)]


KEYS = Flow(
    name="movein_keys",
    title="movein.keys.title",
    steps=(
        Step("count", "movein.keys.count", parse=key_count, numeric=True),
        Step("which", "movein.keys.which", parse=parsers.short_text),
    ),
    summary="movein.summary",
    summarize=_summary,
    finish=_keys_finish,
    start=_desk_start,
    in_menu=False,
    confirm=False,
)


# ---- the re-inspection's time ------------------------------------------------------------------


def appointment(answer: Answer, ctx: Context, answers: Answers) -> str:
    found = movein_reinspection.read_reinspection(ctx, bounded_text(answer, 50))
    if isinstance(found, Text):
        raise _refused(found)
    return found.isoformat()


async def _reinspect_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    found = await _move_in(ctx, answers)
    if isinstance(found, Reply):
        return [found]
    return await movein_reinspection.agree_reinspection(
        ctx, found, datetime.fromisoformat(answers["when"])
    )


REINSPECT = Flow(
    name="movein_reinspect",
    title="movein.reinspect.title",
    steps=(Step("when", "movein.reinspect.prompt", parse=appointment),),
    summary="movein.summary",
    summarize=_summary,
    finish=_reinspect_finish,
    start=_desk_start,
    in_menu=False,
    confirm=False,
)


# ---- the repair group's inspection: the readings, a defect ---------------------------------------


async def _readings_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    started = await _repair_start(ctx, initial)
    if isinstance(started, list):
        return started
    started["_previous"] = await movein_inspection.previous_readings(ctx.session, started["_unit"])
    return started


def meter(name: str) -> Any:
    def parse(answer: Answer, ctx: Context, answers: Answers) -> str:
        text = bounded_text(answer, 30)
        before = answers.get("_previous", {}).get(name)
        try:
            value = reading_rules.parse_reading(text)
            reading_rules.check_reading(value, Decimal(before) if before else None)
        except reading_rules.ReadingError as error:
            if error.reason == "below_previous":
                raise InputError(
                    "movein.readings.below",
                    value=text,
                    previous=rules.figure(Decimal(before)) if before else "",
                ) from None
            raise InputError("movein.readings.not_a_number", value=text) from None
        return str(value)

    return parse


async def _readings_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    found = await _move_in(ctx, answers)
    if isinstance(found, Reply):
        return [found]
    values = {m: Decimal(answers[m]) for m in reading_rules.METERS if answers.get(m)}
    try:
        told = await movein_inspection.record_readings(ctx, found, values)
    except reading_rules.ReadingError:  # read again since the flow began
        return [Reply("movein.readings.changed")]
    ticket = await movein_inspection.inspection_of(ctx, found.id or 0)
    cards = (
        [] if isinstance(ticket, Reply) else await movein_inspection.inspection_card(ctx, *ticket)
    )
    return [Reply("movein.readings.done"), *cards, *told]


READINGS = Flow(
    name="movein_readings",
    title="movein.readings.title",
    steps=tuple(
        Step(m, f"movein.readings.{m}", parse=meter(m), numeric=True, optional=m == "gas")
        for m in reading_rules.METERS
    ),
    summary="movein.summary",
    summarize=_summary,
    finish=_readings_finish,
    start=_readings_start,
    in_menu=False,
    confirm=False,
    in_groups=True,
)


async def _defect_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    found = await _move_in(ctx, answers)
    if isinstance(found, Reply):
        return [found]
    room = str(answers["room"]).removeprefix("room:")
    check = str(answers["check"]).removeprefix("check:")
    if room not in rules.ROOMS or check not in rules.CHECKS:
        return [Reply("movein.stale")]
    replies = await movein_inspection.add_defect(ctx, found, room, check, answers["description"])
    ticket = await movein_inspection.inspection_of(ctx, found.id or 0)
    cards = (
        [] if isinstance(ticket, Reply) else await movein_inspection.inspection_card(ctx, *ticket)
    )
    return [*replies, *cards]


DEFECT = Flow(
    name="movein_defect",
    title="movein.defect.title",
    steps=(
        Step(
            "room",
            "movein.defect.room",
            parse=chosen,
            choices=tuple(Choice(f"room:{r}", f"movein.room.{r}") for r in rules.ROOMS),
        ),
        Step(
            "check",
            "movein.defect.check",
            parse=chosen,
            choices=tuple(Choice(f"check:{c}", f"movein.check.{c}") for c in rules.CHECKS),
        ),
        Step("description", "movein.defect.description", parse=parsers.description),
    ),
    summary="movein.summary",
    summarize=_summary,
    finish=_defect_finish,
    start=_repair_start,
    in_menu=False,
    confirm=False,
    in_groups=True,
)

# ---- cancelling it ----------------------------------------------------------------------------


async def _cancel_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    found = await _move_in(ctx, answers)
    unit = "" if isinstance(found, Reply) else await movein_record.unit_label(ctx.session, found)
    return {"unit": unit, "reason": answers.get("reason", "")}


async def _cancel_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    found = await _move_in(ctx, answers)
    if isinstance(found, Reply):
        return [found]
    return await movein_cancel.cancel(ctx, found, answers["reason"])


CANCEL = Flow(
    name="movein_cancel",
    title="movein.cancel.title",
    steps=(Step("reason", "movein.cancel.reason", parse=parsers.short_text),),
    summary="movein.cancel.summary",
    summarize=_cancel_summary,
    finish=_cancel_finish,
    start=_desk_start,
    in_menu=False,
)

FEATURE = Feature(
    name="movein",
    flows=[PAPER, HOUSEHOLD, FEE, KEYS, REINSPECT, READINGS, DEFECT, CANCEL],
    commands=[Command("movein", movein.movein_command, private_only=True)],
    actions={
        movein_actions.Tick: movein_checklist.tick,
        movein_actions.Inspect: movein_inspection.start_inspection,
        movein_actions.Inspected: movein_inspection.inspected,
        movein_actions.Reinspected: movein_reinspection.reinspected,
        movein_actions.ReadingsOk: movein_inspection.readings_ok,
        movein_actions.ReadingsWrong: movein_inspection.readings_wrong,
        movein_actions.SignOff: movein.owner_signs_off,
        movein_actions.Complete: movein.complete_pressed,
    },
    jobs={movein_reinspection.REINSPECT_JOB: movein_reinspection.remind_reinspection},
    for_staff=[StaffEntry(STAFF_ROLES, "movein.help")],
)
