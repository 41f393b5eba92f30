"""Arrears casework (欠费催缴个案): the desk's view of the units on the arrears ladder.

`/arrears` (the service desk and managers) lists the open cases, latest step first and
oldest first, with what each owes, the last contact and any promise due; `/arrears UNIT`
(as people type it: `1-1-302`) shows one case: what is owed by month (handlers/fees.py's
statement), the ladder's steps, the reason found, every contact, any promise or dispute,
and the legal file. Its buttons record a contact (dialogs/arrears_work.py, the collection
script as the desk's prompts: handlers/arrears_work_contacts.py) and, for a manager,
prepare the legal file (handlers/arrears_work_legal.py).

Who may: the community's service desk and its managers; another community's desk sees
nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlmodel import col, select

from handlers.arrears_cases import agreement_notes, open_agreements
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Money, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.fee_agreements import units_named
from handlers.fees import joined, local_today, month_text, unit_statement
from handlers.rules import arrears_work as rules
from handlers.rules.fees import Statement, bill_total
from handlers.staffauth import acting_member
from storage.models import (
    ArrearsCase,
    ArrearsContact,
    Bill,
    Binding,
    Community,
    Department,
    FeeAgreement,
    Person,
    Role,
    StaffMember,
    Unit,
)

CONTACT_FLOW = "arrears_contact"
# What a case's history records: the ladder's steps and pauses, the casework's own marks.
EVENTS = (
    *("reminder", "letter", "visit", "legal", "paused", "resumed", "paid"),
    *("legal_file", "legal_sent", "legal_hold", "promise_broken"),
)


@dataclass(frozen=True)
class OnCase(Action):
    case: int


@dataclass(frozen=True)
class PrepareLegal(OnCase):
    """A manager chooses the legal step: the file is prepared for the director."""

    name: ClassVar[str] = "arw_legal"


@dataclass(frozen=True)
class ApproveLegal(OnCase):
    """The director sends the prepared file to the lawyer."""

    name: ClassVar[str] = "arw_send"


@dataclass(frozen=True)
class HoldLegal(OnCase):
    """The director holds the file for now."""

    name: ClassVar[str] = "arw_hold"


@dataclass
class CaseFile:
    """Everything the desk, the page and the legal file show of one case."""

    case: ArrearsCase
    unit: Unit
    community: Community | None
    owners: list[Person]
    statement: Statement
    bills: list[Bill]  # the overdue months' bills, oldest first
    contacts: list[ArrearsContact]
    agreements: list[FeeAgreement] = field(default_factory=list)

    @property
    def owner_names(self) -> str:
        return "、".join(p.name for p in self.owners) or "—"

    @property
    def last_contact(self) -> ArrearsContact | None:
        return self.contacts[-1] if self.contacts else None

    @property
    def promise(self) -> ArrearsContact | None:
        """The latest promise still waiting for its day."""
        waiting = [c for c in self.contacts if c.promised_on and c.followed_at is None]
        return waiting[-1] if waiting else None

    @property
    def broken(self) -> list[ArrearsContact]:
        return [c for c in self.contacts if c.kept is False]


# ---- who may -----------------------------------------------------------------------------


def works_on(member: StaffMember) -> bool:
    return member.active and (member.role in MANAGERS or member.department == Department.service)


def worker(ctx: Context, community_id: int) -> StaffMember | None:
    """The sender's record that may work this community's arrears: its desk or a manager."""
    return acting_member(ctx, community_id, Department.service)


async def communities_worked(ctx: Context) -> list[Community]:
    mine = {m.community_id for m in ctx.staff if works_on(m)}
    if not mine:
        return []
    rows = (await ctx.session.exec(select(Community).order_by(col(Community.id)))).all()
    return [c for c in rows if None in mine or c.id in mine]


# ---- reading cases -----------------------------------------------------------------------


async def open_cases(ctx: Context, community_ids: list[int]) -> list[tuple[ArrearsCase, Unit]]:
    """The open cases of these communities, latest step first, oldest first."""
    rows = (
        await ctx.session.exec(
            select(ArrearsCase, Unit)
            .join(Unit, col(Unit.id) == col(ArrearsCase.unit_id))
            .where(col(ArrearsCase.closed_at).is_(None), col(Unit.community_id).in_(community_ids))
        )
    ).all()
    return sorted(
        ((case, unit) for case, unit in rows),
        key=lambda pair: (rules.step_rank(pair[0].step), pair[0].opened_at, pair[1].label),
    )


async def owners_of(ctx: Context, unit_id: int | None) -> list[Person]:
    rows = await ctx.session.exec(
        select(Person)
        .join(Binding, col(Binding.person_id) == col(Person.id))
        .where(Binding.unit_id == unit_id, Binding.role == Role.owner.value)
        .order_by(col(Binding.id))
    )
    return list(rows.all())


async def contacts_of(ctx: Context, case_id: int | None) -> list[ArrearsContact]:
    rows = await ctx.session.exec(
        select(ArrearsContact)
        .where(ArrearsContact.case_id == case_id)
        .order_by(col(ArrearsContact.at), col(ArrearsContact.id))
    )
    return list(rows.all())


async def case_file(ctx: Context, case: ArrearsCase, today: date | None = None) -> CaseFile:
    unit = await ctx.session.get(Unit, case.unit_id)
    assert unit is not None
    statement = await unit_statement(ctx.session, unit, today or local_today(ctx))
    overdue = {d.month for d in statement.arrears}
    bills = (
        await ctx.session.exec(
            select(Bill).where(Bill.unit_id == unit.id).order_by(col(Bill.month))
        )
    ).all()
    return CaseFile(
        case=case,
        unit=unit,
        community=await ctx.session.get(Community, unit.community_id),
        owners=await owners_of(ctx, unit.id),
        statement=statement,
        bills=[b for b in bills if b.month in overdue],
        contacts=await contacts_of(ctx, case.id),
        agreements=await open_agreements(ctx.session, unit.id),
    )


async def case_of_unit(ctx: Context, unit_id: int | None) -> ArrearsCase | None:
    """The unit's open case, else its latest."""
    return (
        await ctx.session.exec(
            select(ArrearsCase)
            .where(ArrearsCase.unit_id == unit_id)
            .order_by(col(ArrearsCase.closed_at).is_not(None), col(ArrearsCase.id).desc())
        )
    ).first()


async def workable_case(ctx: Context, case_id: int | None) -> tuple[ArrearsCase, Unit] | Reply:
    """An open case the sender may work, or why not."""
    case = await ctx.session.get(ArrearsCase, case_id) if case_id else None
    unit = await ctx.session.get(Unit, case.unit_id) if case is not None else None
    if case is None or unit is None or worker(ctx, unit.community_id) is None:
        return Reply("dialog.not_allowed")
    if case.closed_at is not None:
        return Reply("arrears_work.closed", {"unit": unit.label})
    return case, unit


# ---- the command -------------------------------------------------------------------------


async def arrears_command(ctx: Context, argument: str) -> list[Reply]:
    """`/arrears`: the open cases; `/arrears 1-1-302`: one unit's case."""
    communities = await communities_worked(ctx)
    if not communities:
        return [Reply("dialog.not_allowed")]
    label = argument.strip()
    if label:
        return await _unit_case(ctx, communities, label)
    cases = await open_cases(ctx, [c.id for c in communities if c.id is not None])
    if not cases:
        return [Reply("arrears_work.none")]
    lines = [await _line(ctx, case, unit) for case, unit in cases]
    return [Reply("arrears_work.list", {"count": len(lines), "lines": lines})]


async def _line(ctx: Context, case: ArrearsCase, unit: Unit) -> Text:
    found = await case_file(ctx, case)
    last = found.last_contact
    promise = found.promise
    return Text(
        "arrears_work.line",
        {
            "step": Text(f"arrears_work.step.{case.step}"),
            "unit": unit.label,
            "amount": Money(found.statement.net_arrears),
            "count": len(found.statement.arrears),
            "since": case.opened_at.astimezone(ctx.settings.tz).date(),
            "last": Text(
                "arrears_work.line.last",
                {"at": last.at, "method": Text(f"arrears_work.method.{last.method}")},
            )
            if last
            else Text("arrears_work.line.no_contact"),
            "promise": Text(
                "arrears_work.line.promise",
                {"day": promise.promised_on, "amount": _promised(promise.promised_amount)},
            )
            if promise
            else "",
        },
    )


async def _unit_case(ctx: Context, communities: list[Community], label: str) -> list[Reply]:
    units = await units_named(ctx, communities, label)
    if isinstance(units, Reply):
        return [units]
    unit = units[0]
    case = await case_of_unit(ctx, unit.id)
    if case is None:
        return [Reply("arrears_work.no_case", {"unit": unit.label})]
    return [await case_reply(ctx, case)]


async def case_reply(ctx: Context, case: ArrearsCase) -> Reply:
    found = await case_file(ctx, case)
    params = await case_params(ctx, found)
    choices: list[Choice] = []
    if case.closed_at is None:
        choices.append(Choice(f"flow:{CONTACT_FLOW}:{case.id}", "arrears_work.btn.contact"))
        manager = any(
            m.active and m.role in MANAGERS and m.community_id in (None, found.unit.community_id)
            for m in ctx.staff
        )
        if manager and not case.legal_file:
            choices.append(PrepareLegal(case.id or 0).choice("arrears_work.btn.legal"))
    return Reply("arrears_work.case", params, choices=tuple(choices))


def _promised(amount: Decimal | None) -> Any:
    return Money(amount) if amount is not None else Text("arrears_work.promise.any")


def contact_text(contact: ArrearsContact) -> Text:
    """One contact as the desk reads it: when, how, by whom, reached, reason, what was said,
    and the promise with where it stands."""
    promise: Any = ""
    if contact.promised_on is not None:
        state = "waiting" if contact.kept is None else ("kept" if contact.kept else "broken")
        promise = Text(
            "arrears_work.contact.promise",
            {
                "day": contact.promised_on,
                "amount": _promised(contact.promised_amount),
                "state": Text(f"arrears_work.promise.{state}"),
            },
        )
    return Text(
        "arrears_work.contact.line",
        {
            "at": contact.at,
            "method": Text(f"arrears_work.method.{contact.method}"),
            "reached": Text(
                "arrears_work.reached.yes" if contact.reached else "arrears_work.reached.no"
            ),
            "reason": Text(f"arrears_work.reason.{contact.reason}") if contact.reason else "—",
            "outcome": contact.outcome or "—",
            "promise": promise,
        },
    )


def history_text(entry: dict[str, Any]) -> Text:
    step = str(entry.get("step", ""))
    return Text(
        "arrears_work.history.line",
        {
            "at": _moment(entry.get("at")),
            "step": Text(f"arrears_work.event.{step}") if step in EVENTS else step,
            "amount": Money(Decimal(str(entry["amount"]))) if entry.get("amount") else "",
        },
    )


def _moment(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else value


async def case_params(ctx: Context, found: CaseFile) -> dict[str, Any]:
    statement = found.statement
    months = [
        Text("fee.due.line", {"month": month_text(b.month), "amount": Money(bill_total(b))})
        for b in found.bills
    ]
    notes = await agreement_notes(ctx.session, found.agreements)
    return {
        "unit": found.unit.label,
        "owners": found.owner_names,
        "step": Text(f"arrears_work.step.{found.case.step}"),
        "since": found.case.opened_at.astimezone(ctx.settings.tz).date(),
        "amount": Money(statement.net_arrears),
        "count": len(statement.arrears),
        "months": joined(months, "fee.lines", "—"),
        "credit": Text("arrears.credit", {"credit": Money(statement.credit)})
        if statement.credit > 0
        else "",
        "reason": Text(f"arrears_work.reason.{found.case.reason}") if found.case.reason else "—",
        "history": [history_text(h) for h in found.case.history] or "—",
        "contacts": [contact_text(c) for c in found.contacts] or "—",
        "agreements": notes or "—",
        "legal": _legal_text(found.case),
        "closed": Text("arrears_work.case.closed", {"at": found.case.closed_at})
        if found.case.closed_at
        else "",
    }


def _legal_text(case: ArrearsCase) -> Any:
    if case.legal_at is not None:
        return Text("arrears_work.legal.sent", {"at": case.legal_at})
    if case.legal_file:
        return Text("arrears_work.legal.prepared")
    return "—"
