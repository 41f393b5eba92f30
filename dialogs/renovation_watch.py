"""The watched work of a renovation: the guard's `/pass <code>` at the gate, the repair
and security departments' `/renocheck <unit>` (a check or a violation with photos), and
the owner's `/renochange` (a new last day: an extension or an early finish, for the
service desk to approve). See handlers/renovation_passes.py and
handlers/renovation_watch.py.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text, chosen
from handlers import fees, renovation_passes, renovation_watch
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.rules.dates import read_day

KINDS = ("none", *renovation_watch.VIOLATIONS)


def _kind(value: Any) -> Text:
    return Text(f"renowatch.kind.{value or 'none'}")


async def _record_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "unit": answers.get("_unit", ""),
        "kind": _kind(answers.get("kind") if answers.get("kind") != "none" else ""),
        "note": answers.get("note") or "-",
        "photos": len(answers.get("photos") or []),
    }


async def _record_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    kind = str(answers.get("kind") or "none")
    return await renovation_watch.record(
        ctx,
        int(answers["_renovation"]),
        "" if kind == "none" else kind,
        str(answers.get("note") or ""),
        list(answers.get("photos") or []),
    )


RECORD = Flow(
    name=renovation_watch.FLOW,
    title="renowatch.record.title",
    steps=(
        Step(
            "kind",
            "renowatch.prompt.kind",
            parse=chosen,
            choices=tuple(Choice(k, f"renowatch.kind.{k}") for k in KINDS),
        ),
        Step("note", "renowatch.prompt.note", parse=parsers.description, optional=True),
        Step("photos", "renowatch.prompt.photos", parse=parsers.photo, many=True, optional=True),
    ),
    summary="renowatch.record.summary",
    summarize=_record_summary,
    finish=_record_finish,
    start=renovation_watch.start_record,
    in_menu=False,
    in_groups=True,
)


async def _change_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    renovation = await renovation_watch.own_renovation(ctx)
    if renovation is None:
        return [Reply("renowatch.change.none")]
    return {"_ends": renovation.ends.isoformat(), "_starts": renovation.starts.isoformat()}


def _new_end(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = bounded_text(answer, 30)
    today = fees.local_today(ctx)
    found = read_day(text, today)
    if found is None:
        raise InputError("renowatch.error.day", value=text)
    if found < today or found.isoformat() < str(answers.get("_starts", "")):
        raise InputError("renowatch.error.past", value=text)
    if found.isoformat() == answers.get("_ends"):
        raise InputError("renowatch.error.same", value=text)
    return found.isoformat()


async def _change_summary(ctx: Context, answers: Answers) -> dict[str, Any]:

    return {
        "was": date.fromisoformat(answers["_ends"]),
        "ends": date.fromisoformat(answers["ends"]),
        "reason": answers.get("reason") or "-",
    }


async def _change_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:

    return await renovation_watch.request_change(
        ctx, date.fromisoformat(answers["ends"]), str(answers.get("reason") or "")
    )


CHANGE = Flow(
    name=renovation_watch.CHANGE_FLOW,
    title="renowatch.change.title",
    steps=(
        Step("ends", "renowatch.prompt.ends", parse=_new_end),
        Step("reason", "renowatch.prompt.reason", parse=parsers.short_text, optional=True),
    ),
    summary="renowatch.change.summary",
    summarize=_change_summary,
    finish=_change_finish,
    start=_change_start,
    in_menu=False,
)

FEATURE = Feature(
    name="renovation_watch",
    flows=[RECORD, CHANGE],
    commands=[
        Command("pass", renovation_passes.pass_command, roles=STAFF_ROLES),
        Command("renocheck", renovation_watch.renocheck_command, roles=STAFF_ROLES),
    ],
    actions={
        renovation_passes.LetIn: renovation_passes.let_in,
        renovation_passes.Refuse: renovation_passes.refuse,
        renovation_watch.ApproveChange: renovation_watch.approve_change,
        renovation_watch.RefuseChange: renovation_watch.refuse_change,
    },
    for_staff=[StaffEntry(STAFF_ROLES, "renowatch.help.staff")],
)
