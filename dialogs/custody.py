"""Custody of empty flats (房屋托管): the desk's `/custody` (a unit's custody, opened and
ended with its buttons), the month's readings, the patrol's checklist, heavy-rain rounds
(`/rain`, `/rain_over`), and the jobs behind the weekly patrols and monthly readings.
An owner's `/custody` shows their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text, chosen
from handlers import custody, custody_patrols, tasks
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.rules import custody as rules
from handlers.rules.dates import read_day
from handlers.rules.readings import ReadingError, check_reading, parse_reading
from storage.models import TicketKind

# ---- parsers ----------------------------------------------------------------------------


def start_day(answer: Answer, ctx: Context, answers: Answers) -> str:
    today = custody.local_today(ctx)
    if answer.option == "today":
        return today.isoformat()
    found = read_day(bounded_text(answer, 30), today)
    if found is None:
        raise InputError("custody.error.day")
    return found.isoformat()


def end_day(answer: Answer, ctx: Context, answers: Answers) -> str:
    starts = date.fromisoformat(answers["starts"])
    found = read_day(bounded_text(answer, 30), custody.local_today(ctx))
    if found is None:
        raise InputError("custody.error.day")
    if found <= starts:
        raise InputError("custody.error.ends_before", starts=starts)
    return found.isoformat()


def keys(answer: Answer, ctx: Context, answers: Answers) -> list[list[Any]]:
    try:
        return [[label, count] for label, count in rules.parse_keys(bounded_text(answer, 300))]
    except rules.KeysError as error:
        raise InputError(f"custody.error.keys.{error.reason}") from None


def meter_reading(meter: str) -> Callable[[Answer, Context, Answers], str]:
    def parse(answer: Answer, ctx: Context, answers: Answers) -> str:
        try:
            value = parse_reading(bounded_text(answer, 30))
            previous = answers.get("_prev", {}).get(meter)
            check_reading(value, Decimal(previous) if previous is not None else None)
        except ReadingError as error:
            raise InputError(
                f"custody.error.reading.{error.reason}", previous=error.previous or ""
            ) from None
        return str(value)

    return parse


def previous_of(meter: str) -> Callable[[Context, Answers], Any]:
    async def params(ctx: Context, answers: Answers) -> dict[str, Any]:
        previous = answers.get("_prev", {}).get(meter)
        return {
            "previous": Text("custody.reading.previous", {"value": Decimal(previous)})
            if previous is not None
            else ""
        }

    return params


def meter_steps(gas_optional: bool = True) -> tuple[Step, ...]:
    return tuple(
        Step(
            meter,
            f"custody.prompt.{meter}",
            parse=meter_reading(meter),
            prompt_params=previous_of(meter),
            optional=meter == "gas" and gas_optional,
            numeric=True,
        )
        for meter in ("water", "power", "gas")
    )


def meters_of(answers: Answers) -> dict[str, Decimal]:
    return {m: Decimal(answers[m]) for m in ("water", "power", "gas") if answers.get(m)}


def meters_text(answers: Answers) -> Any:
    parts = [
        Text("custody.reading.part.short", {"meter": Text(f"custody.meter.{m}"), "value": str(v)})
        for m, v in meters_of(answers).items()
    ]
    return parts or Text("custody.readings.none")


# ---- opening ----------------------------------------------------------------------------


async def _open_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await custody.may_open(ctx, row_id(initial or ""))
    if isinstance(found, list):
        return found
    assert found.id is not None
    owner = await custody.owner_of(ctx.session, found.id)
    return {
        "_unit": found.id,
        "_label": found.label,
        "_owner": owner.name if owner else "",
        "_prev": await custody.previous_readings(ctx.session, found.id),
    }


async def _open_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "unit": answers["_label"],
        "owner": answers["_owner"] or Text("custody.owner.none"),
        "starts": date.fromisoformat(answers["starts"]),
        "ends": date.fromisoformat(answers["ends"])
        if answers.get("ends")
        else Text("custody.open_ended"),
        "keys": custody.keys_text([(k[0], k[1]) for k in answers["keys"]]),
        "readings": meters_text(answers),
    }


async def _open_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await custody.open_custody(
        ctx,
        unit_id=answers["_unit"],
        starts=date.fromisoformat(answers["starts"]),
        ends=date.fromisoformat(answers["ends"]) if answers.get("ends") else None,
        keys=[(k[0], int(k[1])) for k in answers["keys"]],
        meters=meters_of(answers),
    )


OPEN = Flow(
    name="custody_open",
    title="custody.open.title",
    steps=(
        Step(
            "starts",
            "custody.prompt.starts",
            parse=start_day,
            choices=(Choice("today", "custody.open.today"),),
        ),
        Step("ends", "custody.prompt.ends", parse=end_day, optional=True),
        Step("keys", "custody.prompt.keys", parse=keys),
        *meter_steps(),
    ),
    summary="custody.open.summary",
    summarize=_open_summary,
    finish=_open_finish,
    start=_open_start,
    in_menu=False,
    in_groups=True,
)

# ---- the month's readings ---------------------------------------------------------------


async def _reading_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await custody.may_read(ctx, row_id(initial or ""))
    if isinstance(found, list):
        return found
    held, unit = found
    assert unit.id is not None
    return {
        "_custody": held.id,
        "_label": unit.label,
        "_prev": await custody.previous_readings(ctx.session, unit.id),
    }


async def _reading_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"unit": answers["_label"], "readings": meters_text(answers)}


async def _reading_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await custody.record_readings(ctx, answers["_custody"], meters_of(answers))


READING = Flow(
    name="custody_reading",
    title="custody.reading.title",
    steps=meter_steps(),
    summary="custody.reading.summary",
    summarize=_reading_summary,
    finish=_reading_finish,
    start=_reading_start,
    in_menu=False,
    in_groups=True,
)

# ---- ending -------------------------------------------------------------------------------


async def _end_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await custody.may_end(ctx, row_id(initial or ""))
    if isinstance(found, list):
        return found
    held, unit = found
    out = await custody.keys_out(ctx.session, held.id)
    if out:  # asked before the readings are typed, so nothing typed is lost
        return [Reply("custody.end.key_out", {"keys": "、".join(out)})]
    owner = await custody.owner_of(ctx.session, unit.id)
    keys_held = [k for k in await custody.keys_of(ctx.session, held.id) if k.status == "held"]
    return {
        "_custody": held.id,
        "_label": unit.label,
        "_owner": owner.name if owner else "",
        "_keys": [[k.label, k.count] for k in keys_held],
        "_prev": await custody.previous_readings(ctx.session, held.unit_id),
    }


async def _to_owner(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"owner": answers["_owner"] or Text("custody.owner.none")}


async def _end_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "unit": answers["_label"],
        "keys": custody.keys_text([(k[0], k[1]) for k in answers["_keys"]]),
        "to": answers.get("to") or answers["_owner"] or "—",
        "readings": meters_text(answers),
    }


async def _end_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await custody.end_custody(
        ctx, answers["_custody"], answers.get("to"), meters_of(answers)
    )


END = Flow(
    name="custody_end",
    title="custody.end.title",
    steps=(
        *meter_steps(),  # the final readings
        Step(
            "to",
            "custody.prompt.to",
            parse=parsers.short_text,
            optional=True,
            prompt_params=_to_owner,
        ),
    ),
    summary="custody.end.summary",
    summarize=_end_summary,
    finish=_end_finish,
    start=_end_start,
    in_menu=False,
    in_groups=True,
)

# ---- a new agreed end ---------------------------------------------------------------------


async def _ends_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await custody.may_end(ctx, row_id(initial or ""))
    if isinstance(found, list):
        return found
    held, unit = found
    return {"_custody": held.id, "_label": unit.label, "starts": held.starts.isoformat()}


def new_end(answer: Answer, ctx: Context, answers: Answers) -> str:
    found = end_day(answer, ctx, answers)
    today = custody.local_today(ctx)
    if date.fromisoformat(found) < today:
        raise InputError("custody.error.ends_past", today=today)
    return found


async def _ends_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    ends = answers.get("ends")
    return {
        "unit": answers["_label"],
        "ends": date.fromisoformat(ends) if ends else Text("custody.open_ended"),
    }


async def _ends_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    ends = answers.get("ends")
    return await custody.change_end(
        ctx, answers["_custody"], date.fromisoformat(ends) if ends else None
    )


ENDS = Flow(
    name="custody_ends",
    title="custody.ends.title",
    steps=(Step("ends", "custody.prompt.new_end", parse=new_end, optional=True),),
    summary="custody.ends.summary",
    summarize=_ends_summary,
    finish=_ends_finish,
    start=_ends_start,
    in_menu=False,
    in_groups=True,
)

# ---- the patrol's checklist ---------------------------------------------------------------

CHECK_CHOICES = (Choice("ok", "custody.check.ok"), Choice("bad", "custody.check.bad"))


async def _patrol_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    ticket_id = row_id(initial or "")
    found = await tasks.may_finish(ctx, ticket_id) if ticket_id else [Reply("dialog.stale")]
    if isinstance(found, list):
        return found
    ticket = found[0]
    if ticket.kind != TicketKind.patrol:
        return [Reply("dialog.stale")]
    return {"_ticket": ticket.id, "_number": ticket.number}


def _any_bad(answers: Answers) -> bool:
    return any(answers.get(item) == "bad" for item in rules.CHECKLIST)


async def _patrol_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    bad = [Text(f"custody.check.{i}") for i in rules.CHECKLIST if answers.get(i) == "bad"]
    return {
        "number": answers["_number"],
        "result": Text("custody.result.problem_list", {"items": bad})
        if bad
        else Text("custody.result.fine"),
        "problem": answers.get("problem") or "",
        "photos": len(answers.get("photos") or []),
    }


async def _patrol_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    checks = {item: str(answers.get(item, "ok")) for item in rules.CHECKLIST}
    return await custody_patrols.finish_patrol(
        ctx,
        answers["_ticket"],
        checks,
        answers.get("problem"),
        list(answers.get("photos") or []),
    )


PATROL = Flow(
    name=custody.PATROL_FLOW,
    title="custody.patrol.title",
    steps=(
        *(
            Step(item, f"custody.check.{item}.prompt", parse=chosen, choices=CHECK_CHOICES)
            for item in rules.CHECKLIST
        ),
        Step("problem", "custody.prompt.problem", parse=parsers.description, when=_any_bad),
        Step("photos", "custody.prompt.photos", parse=parsers.photo, many=True, optional=True),
    ),
    summary="custody.patrol.summary",
    summarize=_patrol_summary,
    finish=_patrol_finish,
    start=_patrol_start,
    in_menu=False,
    in_groups=True,
)

FEATURE = Feature(
    name="custody",
    flows=[OPEN, READING, END, PATROL, ENDS],
    commands=[
        Command("custody", custody.custody_command),
        Command("rain", custody_patrols.rain_command, roles=STAFF_ROLES),
        Command("rain_over", custody_patrols.rain_over_command, roles=STAFF_ROLES),
    ],
    jobs={
        custody.PATROL_JOB: custody_patrols.patrol_job,
        custody.READING_JOB: custody.reading_job,
        custody.RAIN_AFTER_JOB: custody_patrols.rain_after_job,
    },
    for_staff=[StaffEntry(STAFF_ROLES, "custody.help.desk")],
)
