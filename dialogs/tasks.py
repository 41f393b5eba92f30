"""Staff tasks and revisits: the short flows behind the card's "done" and "cannot do"
buttons, the resident's and the service desk's revisit forms, and `/mytasks`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text, chosen
from handlers import cards, escalation, revisits, tasks, worklist
from handlers.cards import by_kind
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.my import own_ticket
from handlers.rules.lifecycle import REVISITABLE
from handlers.staffauth import acting_member
from storage.models import Department, Ticket, TicketStatus


def amount(answer: Answer, ctx: Context, answers: Answers) -> str:
    raw = bounded_text(answer, 20).replace("元", "").replace("¥", "").replace(",", "").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InputError("task.error.amount", value=raw) from None
    if value < 0 or value > Decimal("100000") or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InputError("task.error.amount", value=raw)
    return str(value.quantize(Decimal("0.01")))


async def _task_start(
    ctx: Context, initial: str | None, status: str
) -> dict[str, Any] | list[Reply]:
    ref = row_id(initial or "")
    ticket = await ctx.session.get(Ticket, ref) if ref else None
    if ticket is None:
        return [Reply("dialog.stale")]
    member = acting_member(ctx, ticket.community_id, ticket.department)
    if member is None:
        return [Reply("dialog.not_allowed")]
    if ticket.status != status and not (
        status == "open"
        and ticket.status in (TicketStatus.new, TicketStatus.accepted, TicketStatus.in_progress)
    ):
        return [
            Reply(
                "task.not_now", {"number": ticket.number, "status": Text(f"status.{ticket.status}")}
            )
        ]
    return {
        "_ticket": ticket.id,
        "_number": ticket.number,
        "_paid": ticket.paid,
        "_kind": ticket.kind,
    }


async def _done_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    return await _task_start(ctx, initial, TicketStatus.in_progress)


async def _cannot_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    return await _task_start(ctx, initial, "open")


async def _note_example(ctx: Context, answers: Answers) -> dict[str, Any]:
    kind = str(answers.get("_kind", "repair"))
    return {"example": Text(by_kind(ctx.catalogs, "task.done.example", kind))}


async def _photos_wanted(ctx: Context, answers: Answers) -> dict[str, Any]:
    repair = answers.get("_kind", "repair") == "repair"
    return {"photos": Text("task.done.photos.repair" if repair else "task.done.photos.other")}


async def _done_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "number": answers["_number"],
        "note": answers["note"],
        "photos": len(answers.get("photos") or []),
        "amount": answers.get("amount") or Text("card.free"),
    }


async def _done_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await tasks.finish(
        ctx,
        answers["_ticket"],
        answers["note"],
        list(answers.get("photos") or []),
        answers.get("amount"),
    )


async def _cannot_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {"number": answers["_number"], "reason": answers["reason"]}


async def _cannot_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await tasks.give_up(ctx, answers["_ticket"], answers["reason"])


TASK_DONE = Flow(
    name="task_done",
    title="task.done.title",
    steps=(
        Step("note", "task.done.note", parse=parsers.description, prompt_params=_note_example),
        Step(
            "photos",
            "task.done.photos",
            parse=parsers.photo,
            many=True,
            optional=True,
            prompt_params=_photos_wanted,
        ),
        Step(
            "amount",
            "task.done.amount",
            parse=amount,
            when=lambda a: bool(a.get("_paid")),
            numeric=True,
        ),
    ),
    summary="task.done.summary",
    summarize=_done_summary,
    finish=_done_finish,
    start=_done_start,
    in_menu=False,
    in_groups=True,
)

TASK_CANNOT = Flow(
    name="task_cannot",
    title="task.cannot.title",
    steps=(Step("reason", "task.cannot.reason", parse=parsers.description),),
    summary="task.cannot.summary",
    summarize=_cannot_summary,
    finish=_cannot_finish,
    start=_cannot_start,
    in_menu=False,
    in_groups=True,
)

SCORES = tuple(Choice(str(n), f"revisit.score.{n}") for n in range(5, 0, -1))
FIXED = (Choice("yes", "revisit.fixed.yes"), Choice("no", "revisit.fixed.no"))


async def _resident_revisit_start(
    ctx: Context, initial: str | None
) -> dict[str, Any] | list[Reply]:
    ticket = await own_ticket(ctx, initial or "")
    if ticket is None:
        return [Reply("dialog.stale")]
    if ticket.status not in REVISITABLE or "revisit" in ticket.details:
        return [Reply("revisit.already", {"number": ticket.number})]
    return {"_ticket": ticket.id, "_number": ticket.number}


async def _staff_revisit_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    ref = row_id(initial or "")
    ticket = await ctx.session.get(Ticket, ref) if ref else None
    if ticket is None:
        return [Reply("dialog.stale")]
    if acting_member(ctx, ticket.community_id, Department.service) is None:
        return [Reply("dialog.not_allowed")]
    if ticket.status not in REVISITABLE or "revisit" in ticket.details:
        return [Reply("revisit.already", {"number": ticket.number})]
    return {"_ticket": ticket.id, "_number": ticket.number}


async def _revisit_summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    return {
        "number": answers["_number"],
        "satisfaction": answers["satisfaction"],
        "fixed": Text(f"revisit.fixed.{answers['fixed']}"),
        "comment": answers.get("comment") or "—",
    }


async def _finish_revisit(ctx: Context, answers: dict[str, Any], by: str) -> list[Reply]:
    ticket = await ctx.session.get(Ticket, answers["_ticket"], with_for_update=True)
    if ticket is None or ticket.status not in REVISITABLE or "revisit" in ticket.details:
        return [Reply("revisit.already", {"number": answers["_number"]})]
    pushes = await revisits.record(ctx, ticket, answers, by)
    return [Reply("revisit.thanks", {"number": ticket.number}), *pushes]


async def _resident_revisit_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await _finish_revisit(ctx, answers, "resident")


async def _staff_revisit_finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    return await _finish_revisit(ctx, answers, "phone")


REVISIT_STEPS = (
    Step("satisfaction", "revisit.satisfaction", parse=chosen, choices=SCORES),
    Step("fixed", "revisit.fixed", parse=chosen, choices=FIXED),
    Step("comment", "revisit.comment", parse=parsers.short_text, optional=True),
)

REVISIT = Flow(
    name="revisit",
    title="revisit.title",
    steps=REVISIT_STEPS,
    summary="revisit.summary",
    summarize=_revisit_summary,
    finish=_resident_revisit_finish,
    start=_resident_revisit_start,
    in_menu=False,
)
REVISIT_STAFF = Flow(
    name="revisit_staff",
    title="revisit.title",
    steps=REVISIT_STEPS,
    summary="revisit.summary",
    summarize=_revisit_summary,
    finish=_staff_revisit_finish,
    start=_staff_revisit_start,
    in_menu=False,
    in_groups=True,
)

FEATURE = Feature(
    name="tasks",
    flows=[TASK_DONE, TASK_CANNOT, REVISIT, REVISIT_STAFF],
    commands=[
        Command("mytasks", tasks.my_tasks, roles=STAFF_ROLES),
        Command("tasks", worklist.list_command, roles=STAFF_ROLES),
    ],
    actions={
        cards.Accept: tasks.accept,
        cards.Start: tasks.start,
        cards.Handover: tasks.handover,
        cards.HandTo: tasks.hand_to,
        cards.Transfer: tasks.transfer,
        cards.MoveTo: tasks.move_to,
        cards.LeakTested: tasks.record_leak_test,
        revisits.Fixed: revisits.resident_fixed,
        revisits.NotYet: revisits.resident_not_yet,
        revisits.TakePhoneRevisit: revisits.take_phone_revisit,
        worklist.OpenCard: worklist.open_card,
    },
    jobs={revisits.ASK: revisits.ask, revisits.PHONE: revisits.phone},
    sweeps=[escalation.watch_deadlines],
    for_staff=[
        StaffEntry(STAFF_ROLES, "task.help.mine", Choice("cmd:mytasks", "task.menu.mine")),
        StaffEntry(STAFF_ROLES, "task.help.open", Choice("cmd:tasks", "task.menu.open")),
    ],
)
