"""Staff tasks and revisits: the short flows behind the card's "done" and "cannot do"
buttons, the resident's and the service desk's revisit forms, `/mytasks`, and the staff
verbs typed as words on any channel (`接单 R-261126-0007`, `完成 R-… 已更换水龙头 金额 80`),
which are the card's own choices and use-cases (`read_typed`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text, chosen
from handlers import cards, escalation, notice_board, revisits, task_verbs, tasks, worklist
from handlers.cards import by_kind
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.my import own_ticket
from handlers.rules.lifecycle import REVISITABLE
from handlers.rules.money import AmountError, read_amount
from storage.models import Ticket


def amount(answer: Answer, ctx: Context, answers: Answers) -> str:
    """The charge for paid work: 0 to 100,000 yuan, to the fen (kept as text in the flow)."""
    try:
        value = read_amount(bounded_text(answer, 20), least=Decimal(0), most=Decimal(100_000))
    except AmountError as why:
        raise InputError("task.error.amount", value=why.text) from None
    return str(value)


async def _done_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """The card's "done" (`<ticket id>`): the note, photos and amount are asked in turn.

    Started from a typed line whose amount could not be read (`<ticket id>:<note>`), the
    note is kept and the amount is asked again (see `_done_typed`).
    """
    ref, _, note = (initial or "").partition(":")
    ticket_id = row_id(ref)
    found = await tasks.may_finish(ctx, ticket_id) if ticket_id else [Reply("dialog.stale")]
    if isinstance(found, list):
        return found
    answers = _task_answers(found[0])
    if note:
        try:
            answers["note"] = parsers.description(Answer(text=note), ctx, answers)
        except InputError:
            return answers  # asked for as usual
        answers["photos"] = None  # a line has none: the amount is next
    return answers


async def _cannot_start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    ticket_id = row_id(initial or "")
    found = await tasks.may_give_up(ctx, ticket_id) if ticket_id else [Reply("dialog.stale")]
    if isinstance(found, list):
        return found
    return _task_answers(found[0])


def _task_answers(ticket: Ticket) -> dict[str, Any]:
    return {
        "_ticket": ticket.id,
        "_number": ticket.number,
        "_paid": ticket.paid,
        "_kind": ticket.kind,
    }


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

# ---- staff verbs typed as words (`接单 R-261126-0007`, handlers/task_verbs.py) ----------


async def read_typed(ctx: Context, text: str, busy: bool) -> str | list[Reply] | None:
    """What a line typed without a slash stands for (the engine's typed-line hook).

    A staff verb is the choice of the ticket's card it names (`接单 R-…` is the card's
    "accept"), or, for "done" and "cannot do" with their note in the line, the use-case's
    own answer; `我的任务` is `/mytasks`. On a channel only staff use (WeCom) a stranger is
    told so, and a line that is no verb gets the verbs' help. `busy`: a flow is under
    way, so only a verb counts (a card's option named by its label is left to the step).
    None: not ours, and the line goes on as usual (a step's answer, the menu's routers).
    """
    own_channel = task_verbs.staff_only(ctx)
    if not ctx.staff:
        return [Reply("task.typed.not_staff")] if own_channel else None
    line = task_verbs.parse(text, ctx.catalogs.words)
    if line is not None and not (busy and line.verb == task_verbs.PRESS):
        found = await _typed_verb(ctx, line)
        if found is not None:
            return found
    if task_verbs.asks_for_my_tasks(ctx, text):
        return "cmd:mytasks"
    if busy or not own_channel:
        return None
    if task_verbs.asks_for_help(ctx, text):
        return [Reply("task.typed.hello", {"name": ctx.staff[0].name, "help": _typed_help(ctx)})]
    return [Reply("task.typed.not_understood", {"text": text[:40], "help": _typed_help(ctx)})]


async def _typed_verb(ctx: Context, line: task_verbs.TypedLine) -> str | list[Reply] | None:
    ticket = await task_verbs.visible_ticket(ctx, line.number)
    if ticket is None or ticket.id is None:
        if line.verb == task_verbs.PRESS and not task_verbs.staff_only(ctx):
            return None  # "… R-…" in a group's talk is not for the bot
        return [Reply("task.typed.unknown_ticket", {"number": line.number})]
    if line.verb == "accept":
        return cards.Accept(ticket.id).value()
    if line.verb == "start":
        return cards.Start(ticket.id).value()
    if line.verb == "handover":
        colleague = await task_verbs.colleague_named(ctx, ticket, line.rest) if line.rest else None
        if colleague is not None and colleague.id is not None:
            return cards.HandTo(ticket.id, colleague.id).value()
        return cards.Handover(ticket.id).value()  # no such name: the colleagues to choose
    if line.verb == "done" and ticket.kind == "patrol":
        return f"flow:patrol_check:{ticket.id}"  # a patrol is finished with its checklist
    if line.verb == "done" and ticket.kind == "nonconformity":
        return f"flow:nc_answer:{ticket.id}"  # a slip's answer, then its follow-up check
    if line.verb == "done" and notice_board.is_renewal(ticket):
        return f"flow:{notice_board.DONE_FLOW}:{ticket.id}"  # the renewed board's photo first
    if line.verb == "done":
        return await _done_typed(ctx, ticket, line.rest)
    if line.verb == "cannot":
        return await _cannot_typed(ctx, ticket, line.rest)
    return await task_verbs.card_option(ctx, ticket, line.label)


async def _done_typed(ctx: Context, ticket: Ticket, rest: str) -> str | list[Reply]:
    """`完成 R-… 已更换水龙头 [金额 80]`: finished at once when the line says all it takes,
    with the checks of the card's "done"; paid work without an amount is told what to
    type; an amount that cannot be read goes on in the card's flow, the note kept."""
    assert ticket.id is not None
    note, raw = task_verbs.split_amount(rest, ctx.catalogs.words(task_verbs.AMOUNT))
    if not note:
        return [Reply("task.typed.note_needed", {"number": ticket.number})]
    found = await tasks.may_finish(ctx, ticket.id)
    if isinstance(found, list):
        return found
    try:
        note = parsers.description(Answer(text=note), ctx, {})
    except InputError as error:
        return [Reply(error.key, error.params)]
    if not ticket.paid:
        return await tasks.finish(ctx, ticket.id, note, [], None)
    if raw is None:
        return [Reply("task.typed.amount_needed", {"number": ticket.number, "note": note})]
    try:
        charge = amount(Answer(text=raw), ctx, {})
    except InputError as error:
        ctx.also_send.append(Reply(error.key, error.params))
        return f"flow:{cards.DONE_FLOW}:{ticket.id}:{note}"
    return await tasks.finish(ctx, ticket.id, note, [], charge)


async def _cannot_typed(ctx: Context, ticket: Ticket, reason: str) -> list[Reply]:
    """`无法处理 R-… 原因`: given up at once, with the checks of the card's "cannot do"."""
    assert ticket.id is not None
    if not reason:
        return [Reply("task.typed.reason_needed", {"number": ticket.number})]
    found = await tasks.may_give_up(ctx, ticket.id)
    if isinstance(found, list):
        return found
    try:
        reason = parsers.description(Answer(text=reason), ctx, {})
    except InputError as error:
        return [Reply(error.key, error.params)]
    return await tasks.give_up(ctx, ticket.id, reason)


def _typed_help(ctx: Context) -> Text:
    """What the sender may type: the help lines the features declare for their roles."""
    from dialogs import menus  # it reads the registry, which lists this module

    roles = {m.role for m in ctx.staff if m.active}
    return Text("task.typed.help", {"commands": [Text(key) for key in menus.staff_help(roles)]})


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
    ticket_id = row_id(initial or "")
    ticket = await tasks.phone_revisit_ticket(ctx, ticket_id) if ticket_id else None
    if ticket is None:
        return [Reply("dialog.stale")]
    if isinstance(ticket, list):
        return ticket
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
    typed=read_typed,
    for_staff=[
        StaffEntry(STAFF_ROLES, "task.help.mine", Choice("cmd:mytasks", "task.menu.mine")),
        StaffEntry(STAFF_ROLES, "task.help.open", Choice("cmd:tasks", "task.menu.open")),
        StaffEntry(STAFF_ROLES, "task.help.typed"),
    ],
)
