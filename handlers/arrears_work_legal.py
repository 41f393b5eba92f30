"""The legal step of an arrears case (法律途径): a prepared file for the director.

When the ladder reaches "legal" (handlers/arrears.py), or a manager chooses it from the
case (`/arrears UNIT`, "准备法律材料"), the case's file is written (handlers/documents/legal.py:
the unit, owner, bills owed by month, the ladder's steps, every contact and broken promise,
the amount) and kept as `ArrearsCase.legal_file`. The community's directors get it in chat
with two buttons: send it to the lawyer (recorded with its time, `legal_at`) or hold it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from handlers.arrears_work import (
    ApproveLegal,
    CaseFile,
    HoldLegal,
    PrepareLegal,
    case_file,
    history_text,
)
from handlers.core.context import Context
from handlers.core.messages import Money, Recipient, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.directory import people_with_role
from handlers.documents.legal import LegalFile, Section, write_legal
from handlers.fees import month_text
from handlers.rules.fees import bill_total
from storage import audit
from storage.models import ArrearsCase, StaffRole, Unit


def _manager(ctx: Context, community_id: int, *roles: str) -> bool:
    return any(
        m.active and m.role in roles and m.community_id in (None, community_id) for m in ctx.staff
    )


async def director_chats(ctx: Context, community_id: int) -> list[Recipient]:
    """The community's directors; with none, its supervisors decide."""
    chats = await people_with_role(ctx.session, community_id, StaffRole.director.value)
    return chats or await people_with_role(ctx.session, community_id, StaffRole.supervisor.value)


async def prepare_legal(ctx: Context, case: ArrearsCase) -> list[Reply]:
    """Write the file, keep it on the case, and hand it to the director to decide."""
    found = await case_file(ctx, case)
    stamp = ctx.now.astimezone(ctx.settings.tz).strftime("%Y%m%d")
    path = (
        Path(ctx.settings.data_dir)
        / "legal"
        / f"arrears-{found.unit.community_id}-{found.unit.id}-{case.id}-{stamp}.xlsx"
    )
    data = legal_data(ctx, found)
    await asyncio.to_thread(write_legal, data, path)
    case.legal_file = str(path.resolve())[:300]
    case.history = [*case.history, {"step": "legal_file", "at": ctx.now.isoformat()}]
    ctx.session.add(case)
    params = _params(found)
    buttons = (
        ApproveLegal(case.id or 0).choice("arrears_work.btn.send"),
        HoldLegal(case.id or 0).choice("arrears_work.btn.hold"),
    )
    return [
        Reply(
            "arrears_work.legal.for_director",
            params,
            to=chat,
            document=case.legal_file,
            choices=buttons,
        )
        for chat in await director_chats(ctx, found.unit.community_id)
    ]


def _params(found: CaseFile) -> dict[str, Any]:
    return {
        "unit": found.unit.label,
        "owners": found.owner_names,
        "amount": Money(found.statement.net_arrears),
        "count": len(found.statement.arrears),
        "contacts": len(found.contacts),
        "broken": len(found.broken),
    }


def legal_data(ctx: Context, found: CaseFile) -> LegalFile:
    """The file's words in the office's language."""
    locale = ctx.settings.default_locale

    def say(key: str, **params: Any) -> str:
        return ctx.catalogs.text(locale, key, params)

    def show(value: Any) -> str:
        return ctx.catalogs.format(locale, value)

    case = found.case
    bills = Section(
        say("arrears_work.file.bills"),
        [
            say("arrears_work.file.month"),
            say("arrears_work.file.management"),
            say("arrears_work.file.energy"),
            say("arrears_work.file.collected"),
            say("arrears_work.file.total"),
        ],
        [
            [show(month_text(b.month)), b.management, b.energy, b.collected, bill_total(b)]
            for b in found.bills
        ],
    )
    steps = Section(
        say("arrears_work.file.steps"),
        [say("arrears_work.file.when"), say("arrears_work.file.step")],
        [
            [show(history_text(h).params["at"]), show(history_text(h).params["step"])]
            for h in case.history
        ],
    )
    contacts = Section(
        say("arrears_work.file.contacts"),
        [
            say("arrears_work.file.when"),
            say("arrears_work.file.method"),
            say("arrears_work.file.reached"),
            say("arrears_work.file.reason"),
            say("arrears_work.file.promise"),
            say("arrears_work.file.outcome"),
            say("arrears_work.file.by"),
        ],
        [
            [
                show(c.at),
                say(f"arrears_work.method.{c.method}"),
                say("arrears_work.reached.yes" if c.reached else "arrears_work.reached.no"),
                say(f"arrears_work.reason.{c.reason}") if c.reason else "—",
                _promise_cell(ctx, locale, c.promised_on, c.promised_amount, c.kept),
                c.outcome or "—",
                c.by,
            ]
            for c in found.contacts
        ],
    )
    return LegalFile(
        title=say("arrears_work.file.title", unit=found.unit.label),
        facts=[
            (say("arrears_work.file.community"), found.community.name if found.community else ""),
            (say("arrears_work.file.unit"), found.unit.label),
            (say("arrears_work.file.owner"), found.owner_names),
            (say("arrears_work.file.area"), found.unit.area_m2),
            (say("arrears_work.file.amount"), found.statement.net_arrears),
            (say("arrears_work.file.count"), len(found.statement.arrears)),
            (say("arrears_work.file.since"), show(case.opened_at)),
            (
                say("arrears_work.file.reason"),
                say(f"arrears_work.reason.{case.reason}") if case.reason else "—",
            ),
            (say("arrears_work.file.broken"), len(found.broken)),
            (say("arrears_work.file.prepared"), show(ctx.now)),
        ],
        sections=(bills, steps, contacts),
    )


def _promise_cell(ctx: Context, locale: str, day: Any, amount: Any, kept: bool | None) -> str:
    if day is None:
        return "—"
    state = "waiting" if kept is None else ("kept" if kept else "broken")
    return ctx.catalogs.text(
        locale,
        "arrears_work.contact.promise",
        {
            "day": day,
            "amount": Money(amount) if amount is not None else Text("arrears_work.promise.any"),
            "state": Text(f"arrears_work.promise.{state}"),
        },
    ).strip()


# ---- the buttons -------------------------------------------------------------------------


async def _case(ctx: Context, case_id: int) -> tuple[ArrearsCase, Unit] | None:
    case = await ctx.session.get(ArrearsCase, case_id, with_for_update=True)
    unit = await ctx.session.get(Unit, case.unit_id) if case is not None else None
    return (case, unit) if case is not None and unit is not None else None


async def choose_legal(ctx: Context, action: PrepareLegal) -> list[Reply]:
    """A manager takes the case to the legal step now."""
    found = await _case(ctx, action.case)
    if found is None or not _manager(ctx, found[1].community_id, *MANAGERS):
        return [Reply("dialog.not_allowed")]
    case, unit = found
    if case.closed_at is not None:
        return [Reply("arrears_work.closed", {"unit": unit.label})]
    if case.legal_file:
        return [Reply("arrears_work.legal.already", {"unit": unit.label})]
    if case.step != "legal":
        case.step, case.step_at = "legal", ctx.now
        case.history = [
            *case.history,
            {"step": "legal", "at": ctx.now.isoformat(), "by": ctx.actor},
        ]
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="arrears_legal_chosen",
        target=unit.label,
        detail={"case": case.id},
        now=ctx.now,
    )
    sent = await prepare_legal(ctx, case)
    return [Reply("arrears_work.legal.handed", {"unit": unit.label, "told": len(sent)}), *sent]


async def _decides(ctx: Context, community_id: int) -> bool:
    """The community's director decides; a community without one, its supervisor."""
    if _manager(ctx, community_id, StaffRole.director.value):
        return True
    directors = await people_with_role(ctx.session, community_id, StaffRole.director.value)
    return not directors and _manager(ctx, community_id, StaffRole.supervisor.value)


async def _decide(ctx: Context, case_id: int, step: str) -> tuple[ArrearsCase, Unit] | Reply:
    found = await _case(ctx, case_id)
    if found is None or not await _decides(ctx, found[1].community_id):
        return Reply("dialog.not_allowed")
    case, unit = found
    if not case.legal_file:
        return Reply("dialog.stale")
    if case.legal_at is not None:
        return Reply("arrears_work.legal.sent_already", {"unit": unit.label, "at": case.legal_at})
    case.history = [*case.history, {"step": step, "at": ctx.now.isoformat(), "by": ctx.actor}]
    ctx.session.add(case)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action=f"arrears_{step}",
        target=unit.label,
        detail={"case": case.id, "file": Path(case.legal_file).name},
        now=ctx.now,
    )
    return case, unit


async def approve_legal(ctx: Context, action: ApproveLegal) -> list[Reply]:
    found = await _decide(ctx, action.case, "legal_sent")
    if isinstance(found, Reply):
        return [found]
    case, unit = found
    case.legal_at = ctx.now
    return [Reply("arrears_work.legal.approved", {"unit": unit.label, "at": ctx.now})]


async def hold_legal(ctx: Context, action: HoldLegal) -> list[Reply]:
    found = await _decide(ctx, action.case, "legal_hold")
    if isinstance(found, Reply):
        return [found]
    return [Reply("arrears_work.legal.held", {"unit": found[1].label})]
