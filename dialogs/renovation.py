"""Renovation (装修): the owner's application (`/renovation`, or the menu), resubmitted with
the earlier answers offered again when the reviewers ask for changes; the reviewers'
short flows (what to change, why refused), the authority's approval attached later, the
waste fee's receipt, and the repair group's failed completion check. The use-cases are in
handlers/renovation.py and handlers/renovation_review.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from dialogs import parsers
from dialogs.engine import StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text, chosen
from handlers import renovation, renovation_apply, renovation_review
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.rules.dates import read_day
from storage.models import Renovation


def _refused(found: Text) -> InputError:
    return InputError(found.key, **found.params)


async def unit_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    return [
        Choice(f"unit:{unit.id}", "reno.unit.option", {"unit": unit.label})
        for unit, _ in await renovation_apply.applicant_units(ctx)
    ]


async def unit(answer: Answer, ctx: Context, answers: Answers) -> str:
    value = chosen(answer, ctx, answers)
    found = await renovation_apply.chosen_unit(ctx, {"unit": value})
    if found is None:
        raise InputError("dialog.error.choose")
    refused = await renovation_apply.one_open_refusal(ctx, found)
    if refused is not None:
        raise InputError(refused.key, **refused.params)
    return value


def _prev(name: str) -> Any:
    async def proposed(ctx: Context, answers: Answers) -> Any:
        return answers.get("_prev", {}).get(name)

    return proposed


def starts(answer: Answer, ctx: Context, answers: Answers) -> str:
    today = renovation.local_today(ctx)
    found = read_day(bounded_text(answer, 30), today)
    if found is None:
        raise InputError("reno.error.day")
    if found < today:
        raise InputError("reno.error.past", day=found)
    return found.isoformat()


def ends(answer: Answer, ctx: Context, answers: Answers) -> str:
    first = date.fromisoformat(answers["starts"])
    found = read_day(bounded_text(answer, 30), renovation.local_today(ctx))
    if found is None:
        raise InputError("reno.error.day")
    if found <= first:
        raise InputError("reno.error.ends_before", starts=first)
    return found.isoformat()


async def _prev_day(name: str, ctx: Context, answers: Answers) -> str | None:
    """An earlier day is offered again only while it is still possible."""
    value = answers.get("_prev", {}).get(name)
    if not value or date.fromisoformat(value) < renovation.local_today(ctx):
        return None
    if name == "ends" and answers.get("starts") and value <= answers["starts"]:
        return None
    return str(value)


async def _prev_starts(ctx: Context, answers: Answers) -> str | None:
    return await _prev_day("starts", ctx, answers)


async def _prev_ends(ctx: Context, answers: Answers) -> str | None:
    return await _prev_day("ends", ctx, answers)


KEEP = "keep"


def plan(answer: Answer, ctx: Context, answers: Answers) -> str:
    earlier = answers.get("_prev", {}).get("plan")
    if answer.option == KEEP and earlier:
        return str(earlier)
    return bounded_text(answer, 2000, minimum=2)


async def _plan_keep(ctx: Context, answers: Answers) -> Sequence[Choice]:
    """A long answer is not offered as a button's label: its own "keep" button instead,
    with the earlier words in the prompt."""
    if not answers.get("_prev", {}).get("plan"):
        return ()
    return (Choice(KEEP, "reno.plan.keep"),)


async def _plan_earlier(ctx: Context, answers: Answers) -> dict[str, Any]:
    earlier = answers.get("_prev", {}).get("plan")
    return {"earlier": Text("reno.plan.earlier", {"plan": earlier}) if earlier else ""}


def count(answer: Answer, ctx: Context, answers: Answers) -> int:
    text = bounded_text(answer, 10)
    if not text.isdigit() or not 1 <= int(text) <= 50:
        raise InputError("reno.error.count", value=text)
    return int(text)


def workers(answer: Answer, ctx: Context, answers: Answers) -> str:
    if answer.option == KEEP and answers.get("_prev", {}).get("workers"):
        answer = Answer(text=str(answers["_prev"]["workers"]))
    found = renovation_apply.read_workers(bounded_text(answer, 1000), int(answers["count"]))
    if isinstance(found, Text):
        raise _refused(found)
    return renovation_apply.workers_text(found)


async def _workers_keep(ctx: Context, answers: Answers) -> Sequence[Choice]:
    value = answers.get("_prev", {}).get("workers")
    if not value or isinstance(renovation_apply.read_workers(value, int(answers["count"])), Text):
        return ()
    return (Choice(KEEP, "reno.workers.keep"),)


async def _workers_earlier(ctx: Context, answers: Answers) -> dict[str, Any]:
    earlier = answers.get("_prev", {}).get("workers")
    return {
        "count": answers.get("count", ""),
        "earlier": Text("reno.workers.earlier", {"workers": earlier}) if earlier else "",
    }


async def _prev_count(ctx: Context, answers: Answers) -> str | None:
    value = answers.get("_prev", {}).get("count")
    return str(value) if value else None


def _changes_any(answers: Answers) -> bool:
    return str(answers.get("changes", "changes:none")) != "changes:none"


def _needs_authority(answers: Answers) -> bool:
    return _changes_any(answers) and "authority" not in answers.get("_kept", [])


def _delegate_paper(kind: str) -> Any:
    def when(answers: Answers) -> bool:
        return renovation_apply.is_delegate(answers) and kind not in answers.get("_kept", [])

    return when


def agreement(answer: Answer, ctx: Context, answers: Answers) -> str:
    if answer.option != "agree":
        raise InputError("reno.agreement.needed")
    return "agree"


APPLY = Flow(
    name=renovation.FLOW,
    title="reno.title",
    steps=(
        Step(
            "unit",
            "reno.unit.prompt",
            parse=unit,
            choices=unit_choices,
        ),
        Step(
            "attorney",
            "reno.attorney.prompt",
            parse=parsers.photo,
            when=_delegate_paper("attorney"),
        ),
        Step(
            "delegate_id",
            "reno.delegate_id.prompt",
            parse=parsers.photo,
            when=_delegate_paper("delegate_id"),
        ),
        Step("starts", "reno.starts.prompt", parse=starts, prefill=_prev_starts),
        Step("ends", "reno.ends.prompt", parse=ends, prefill=_prev_ends),
        Step(
            "contractor",
            "reno.contractor.prompt",
            parse=parsers.short_text,
            prefill=_prev("contractor"),
        ),
        Step("foreman", "reno.foreman.prompt", parse=parsers.name, prefill=_prev("foreman")),
        Step(
            "foreman_phone",
            "reno.foreman_phone.prompt",
            parse=parsers.phone,
            prefill=_prev("foreman_phone"),
        ),
        Step(
            "plan",
            "reno.plan.prompt",
            parse=plan,
            choices=_plan_keep,
            prompt_params=_plan_earlier,
        ),
        Step(
            "plan_files",
            "reno.plan_files.prompt",
            parse=parsers.photo,
            many=True,
            optional=True,
        ),
        Step(
            "changes",
            "reno.changes.prompt",
            parse=chosen,
            choices=tuple(
                Choice(f"changes:{kind}", f"reno.changes.{kind}") for kind in renovation.CHANGES
            ),
        ),
        Step(
            "authority",
            "reno.authority.prompt",
            parse=parsers.photo,
            optional=True,
            when=_needs_authority,
        ),
        Step("count", "reno.count.prompt", parse=count, numeric=True, prefill=_prev_count),
        Step(
            "workers",
            "reno.workers.prompt",
            parse=workers,
            choices=_workers_keep,
            prompt_params=_workers_earlier,
        ),
        Step(
            "agreement",
            "reno.agreement.prompt",
            parse=agreement,
            choices=(Choice("agree", "reno.agreement.agree"),),
        ),
    ),
    summary="reno.summary",
    summarize=renovation_apply.summarize,
    finish=renovation_apply.submit,
    start=renovation_apply.begin,
)


# ---- the reviewers' short flows ----------------------------------------------------------------


# Who may start each short flow, checked again by its use-case: asked before typing, so
# nobody writes reasons only to be refused.
STAFF_OF = {
    "renovation_changes": renovation.reviewer,
    "renovation_refuse": renovation.desk_member,
    "renovation_failed": renovation.reviewer,
    "renovation_fee": renovation.desk_member,
}


def _starter(name: str, statuses: tuple[str, ...]) -> Any:
    async def start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
        ref = row_id(initial or "")
        found = await ctx.session.get(Renovation, ref) if ref else None
        if found is None or found.status not in statuses:
            return [Reply("dialog.stale")]
        allowed = STAFF_OF.get(name)
        if allowed is not None and allowed(ctx, found.community_id) is None:
            return [Reply("reno.review.not_allowed")]
        return {"_renovation": found.id}

    return start


async def _changes_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await renovation_review.ask_changes(ctx, answers["_renovation"], answers["what"])


async def _refuse_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await renovation_review.refuse(ctx, answers["_renovation"], answers["what"])


async def _failed_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await renovation_review.failed(ctx, answers["_renovation"], answers["what"])


async def _authority_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await renovation_review.attach_authority(ctx, answers["_renovation"], answers["photo"])


async def _fee_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await renovation_review.record_fee(ctx, answers["_renovation"], answers["receipt"])


async def _summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {}


def receipt(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = bounded_text(answer, 50)
    if len(text) < 3:
        raise InputError("reno.fee.error")
    return text


def _short(name: str, title: str, step: Step, statuses: tuple[str, ...], finish: Any) -> Flow:
    return Flow(
        name=name,
        title=title,
        steps=(step,),
        summary="reno.short.summary",
        summarize=_summary,
        finish=finish,
        start=_starter(name, statuses),
        in_menu=False,
        confirm=False,
        in_groups=name != "renovation_authority",
    )


S = renovation.S
CHANGES = _short(
    "renovation_changes",
    "reno.changes_flow.title",
    Step("what", "reno.changes_flow.prompt", parse=parsers.description),
    (S.submitted,),
    _changes_finish,
)
REFUSE = _short(
    "renovation_refuse",
    "reno.refuse_flow.title",
    Step("what", "reno.refuse_flow.prompt", parse=parsers.description),
    renovation.IN_REVIEW,
    _refuse_finish,
)
FAILED = _short(
    "renovation_failed",
    "reno.failed_flow.title",
    Step("what", "reno.failed_flow.prompt", parse=parsers.description),
    (S.inspecting,),
    _failed_finish,
)
AUTHORITY = _short(
    "renovation_authority",
    "reno.authority_flow.title",
    Step("photo", "reno.authority.prompt", parse=parsers.photo),
    renovation.IN_REVIEW,
    _authority_finish,
)
FEE = _short(
    "renovation_fee",
    "reno.fee_flow.title",
    Step("receipt", "reno.fee_flow.prompt", parse=receipt),
    (*renovation.IN_WORK, S.finished),
    _fee_finish,
)

FEATURE = Feature(
    name="renovation",
    flows=[APPLY, CHANGES, REFUSE, FAILED, AUTHORITY, FEE],
    actions={
        renovation.Approve: renovation_review.approve,
        renovation.Cancel: renovation_review.cancel,
        renovation.Completed: renovation_review.completed,
        renovation.Passed: renovation_review.passed,
    },
    for_staff=[StaffEntry(STAFF_ROLES, "reno.help.staff")],
)
