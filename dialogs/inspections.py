"""Inspection rounds (日常巡查) and nonconformity slips (不合格单): `/inspect` for the desk,
supervisors and the director, `/checklist` to read the community's list, the short flows
behind a failed item (note and photos), the department's answer on a slip's card, and
仍不合格 at the follow-up check (the reason)."""

from __future__ import annotations

from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answers, Flow, Step
from handlers import inspections, inspections_slips
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply
from handlers.core.roles import STAFF_ROLES

# ---- a failed item: the note and photos -------------------------------------------------


async def _fail_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    found = await inspections.may_fail(ctx, initial or "")
    if isinstance(found, list):
        return found
    held, index = found
    return {"_round": held.id, "_index": index, "_item": held.items[index]["item"]}


async def _fail_item(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"item": answers.get("_item", "")}


async def _fail_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"item": answers.get("_item", "")}


async def _fail_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await inspections.failed(
        ctx,
        int(answers["_round"]),
        int(answers["_index"]),
        answers.get("note"),
        list(answers.get("photos") or []),
    )


FAIL = Flow(
    name=inspections.FAIL_FLOW,
    title="inspect.fail.title",
    steps=(
        Step(
            "note",
            "inspect.fail.note",
            parse=parsers.description,
            optional=True,
            prompt_params=_fail_item,
        ),
        Step("photos", "inspect.fail.photos", parse=parsers.photo, many=True, optional=True),
    ),
    summary="inspect.fail.summary",
    summarize=_fail_summary,
    finish=_fail_finish,
    start=_fail_start,
    in_menu=False,
    confirm=False,  # the round goes on at once
)

# ---- the department's answer -------------------------------------------------------------


async def _answer_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    ticket_id = row_id(initial or "")
    found = await inspections_slips.may_answer(ctx, ticket_id) if ticket_id else None
    if found is None:
        return [Reply("dialog.stale")]
    if isinstance(found, list):
        return found
    return {
        "_ticket": found.id,
        "_number": found.number,
        "_item": found.details.get("item", found.description),
    }


async def _answer_params(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"number": answers.get("_number", ""), "item": answers.get("_item", "")}


async def _answer_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "number": answers["_number"],
        "note": answers["note"],
        "photos": len(answers.get("photos") or []),
    }


async def _answer_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await inspections_slips.answered(
        ctx, int(answers["_ticket"]), answers["note"], list(answers.get("photos") or [])
    )


ANSWER = Flow(
    name=inspections_slips.ANSWER_FLOW,
    title="inspect.answer.title",
    steps=(
        Step(
            "note",
            "inspect.answer.note",
            parse=parsers.description,
            prompt_params=_answer_params,
        ),
        Step("photos", "inspect.answer.photos", parse=parsers.photo, many=True, optional=True),
    ),
    summary="inspect.answer.summary",
    summarize=_answer_summary,
    finish=_answer_finish,
    start=_answer_start,
    in_menu=False,
    in_groups=True,
)

# ---- 仍不合格 at the follow-up check ----------------------------------------------------------


async def _reopen_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    ticket_id = row_id(initial or "")
    found = await inspections_slips.may_check(ctx, ticket_id) if ticket_id else None
    if found is None:
        return [Reply("dialog.stale")]
    if isinstance(found, list):
        return found
    return {"_ticket": found[0].id, "_number": found[0].number}


async def _reopen_params(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"number": answers.get("_number", "")}


async def _reopen_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"number": answers["_number"], "reason": answers["reason"]}


async def _reopen_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await inspections_slips.reopen(ctx, int(answers["_ticket"]), answers["reason"])


REOPEN = Flow(
    name=inspections_slips.REOPEN_FLOW,
    title="inspect.reopen.title",
    steps=(
        Step(
            "reason",
            "inspect.reopen.reason",
            parse=parsers.description,
            prompt_params=_reopen_params,
        ),
    ),
    summary="inspect.reopen.summary",
    summarize=_reopen_summary,
    finish=_reopen_finish,
    start=_reopen_start,
    in_menu=False,
    in_groups=True,
    confirm=False,
)

FEATURE = Feature(
    name="inspections",
    flows=[FAIL, ANSWER, REOPEN],
    commands=[
        Command("inspect", inspections.inspect_command, roles=STAFF_ROLES, private_only=True),
        Command("checklist", inspections.checklist_command, roles=STAFF_ROLES),
    ],
    actions={
        inspections.Pass: inspections.passed,
        inspections.Pause: inspections.pause,
        inspections.Finish: inspections.finish,
        inspections_slips.Confirm: inspections_slips.confirm,
    },
    jobs={inspections.REMIND_JOB: inspections.remind},
    for_staff=[
        StaffEntry(
            STAFF_ROLES,
            "inspect.help",
            Choice("cmd:inspect", "inspect.menu"),
        ),
    ],
)
