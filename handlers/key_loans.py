"""Key loans (钥匙借用): a key of the register lent, given back, and chased when overdue.

The desk (or a manager) lends a key to a staff member of the community (the technician
going into a flat in custody) or to an outsider with a name and phone, for a purpose,
due back after the community's `key_loan_hours` or at a time typed. A unit's key goes
out only with its owner's consent recorded: the owner is asked in chat (同意/不同意) and the
key is lent when they agree, or the desk records how they agreed (by phone, in writing,
with a note). The owner is told when their key goes out and when it comes back.

Overdue, the borrower is reminded (in their chat, if they have one) and the desk's group
told (to phone them otherwise); `key_escalate_hours` later the community's supervisors are
told. Each step once, recorded on the loan in the sweep's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlmodel import col, select

from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.directory import department_chats, people_with_role, person_chats, private_chat
from handlers.keys import (
    KeyBack,
    NotFound,
    communities_where,
    community_staff,
    find_key,
    keeper,
    open_loan,
    owners_of,
    place,
    policy_for,
    record,
)
from handlers.rules import keys as rules
from storage import audit
from storage.models import Department, KeyLoan, OfficeKey, Person, StaffMember, Unit

BATCH = 200


@dataclass(frozen=True)
class Borrower:
    """Who takes the key: a staff member of the community, or anyone with a phone (a
    resident of the community when the phone is theirs: they are reminded in chat)."""

    name: str
    phone: str = ""
    staff_id: int | None = None
    person_id: int | None = None


@dataclass(frozen=True)
class LendRequest:
    key_id: int
    borrower: Borrower
    purpose: str = ""
    due: datetime | None = None  # None: the community's loan hours from when it goes out
    consent: str = ""  # chat: ask the owner; phone, written: as the desk records it
    consent_note: str = ""


@dataclass(frozen=True)
class OnKey(Action):
    key: int
    ask: int


@dataclass(frozen=True)
class OwnerAgrees(OnKey):
    name: ClassVar[str] = "key_owner_ok"
    private: ClassVar[bool] = True


@dataclass(frozen=True)
class OwnerRefuses(OnKey):
    name: ClassVar[str] = "key_owner_no"
    private: ClassVar[bool] = True


# ---- who borrows ---------------------------------------------------------------------------


async def borrower_named(ctx: Context, community_id: int, name: str, phone: str = "") -> Borrower:
    """A staff member of the community by name; else whoever has the phone given."""
    name = name.strip()[:100]
    for member in await community_staff(ctx.session, community_id):
        if member.name == name:
            return Borrower(name, phone, staff_id=member.id)
    person = None
    if phone:
        person = (await ctx.session.exec(select(Person).where(Person.phone == phone))).first()
    return Borrower(name, phone, person_id=person.id if person else None)


async def borrower_chats(ctx: Context, loan: KeyLoan) -> list[Recipient]:
    if loan.staff_id is not None:
        member = await ctx.session.get(StaffMember, loan.staff_id)
        return [private_chat(member)] if member is not None and member.active else []
    return await person_chats(ctx.session, loan.person_id)


async def desk_chats(ctx: Context, community_id: int) -> list[Recipient]:
    chats = await department_chats(ctx.session, community_id, Department.service)
    return chats or await people_with_role(ctx.session, community_id, "supervisor")


# ---- lending ---------------------------------------------------------------------------------


async def locked_key(ctx: Context, key_id: int) -> OfficeKey | None:
    """The key, locked until the transaction ends: two desks lending (or taking back) the
    same key at once on PostgreSQL go one after the other, the second seeing the first's
    loan (SQLite lets one writer in at a time anyway)."""
    return await ctx.session.get(OfficeKey, key_id, with_for_update=True)


def pending_ask(key: OfficeKey) -> dict[str, Any] | None:
    """The owner's consent asked in chat and not answered yet, if any."""
    answers = ("agreed", "refused", "withdrawn")
    answered = {e.get("ask") for e in key.history if e.get("event") in answers}
    for entry in reversed(key.history):
        if entry.get("event") == "asked" and entry.get("ask") not in answered:
            return entry
    return None


async def may_lend(ctx: Context, key: OfficeKey | None) -> OfficeKey | Reply:
    """The key, when the sender may lend it now; else why not."""
    if key is None or keeper(ctx, key.community_id) is None:
        return Reply("dialog.not_allowed")
    if key.status == rules.RETURNED:
        return Reply("keys.error.key_gone", {"label": key.label})
    loan = await open_loan(ctx.session, key.id)
    if loan is not None:
        return Reply("keys.error.key_out", {"label": key.label, "borrower": loan.borrower})
    return key


async def lend(ctx: Context, request: LendRequest) -> list[Reply]:
    """Lend a key now; a unit's key asks its owner first (`consent` "chat") or needs the
    way the owner agreed recorded with a note (phone, written). Refused otherwise."""
    found = await may_lend(ctx, await locked_key(ctx, request.key_id))
    if isinstance(found, Reply):
        return [found]
    key = found
    borrower = request.borrower
    if not borrower.name.strip():
        return [Reply("keys.error.borrower")]
    if borrower.staff_id is None and not borrower.phone:
        return [Reply("keys.error.phone_needed", {"borrower": borrower.name})]
    consent = ""
    if rules.needs_consent(key.kind):
        asked = pending_ask(key)
        if request.consent == rules.CONSENT_CHAT:
            if asked is not None:  # the owner is asked once; the desk may record instead
                return [Reply("keys.error.asking", {"label": key.label})]
            return await ask_owner(ctx, key, request)
        note = request.consent_note.strip()
        if request.consent not in rules.RECORDED_CONSENT or not note:
            return [Reply("keys.error.consent_needed", {"label": key.label})]
        consent = f"{request.consent}: {note}"[:200]
        if asked is not None:  # consent got another way: the question in chat is void
            record(key, ctx, "withdrawn", ask=asked.get("ask"))
    return await lend_now(ctx, key, request, consent, lent_by=ctx.actor)


async def lend_now(
    ctx: Context,
    key: OfficeKey,
    request: LendRequest,
    consent: str,
    *,
    lent_by: str,
    to: Recipient | None = None,
) -> list[Reply]:
    """The loan recorded: the key out, the card (with its "given back" button) for the
    desk (`to`: the desk's chat, when the owner's press lends it), the owner told."""
    policy = await policy_for(ctx, key.community_id)
    due = request.due if request.due and request.due > ctx.now else None
    borrower = request.borrower
    loan = KeyLoan(
        community_id=key.community_id,
        key_id=key.id or 0,
        borrower=borrower.name[:100],
        phone=borrower.phone[:30],
        person_id=borrower.person_id,
        staff_id=borrower.staff_id,
        purpose=request.purpose[:200],
        consent=consent,
        lent_by=lent_by[:100],
        lent_at=ctx.now,
        due_at=due or rules.default_due(ctx.now, policy),
    )
    ctx.session.add(loan)
    await ctx.session.flush()
    key.status = rules.LENT
    record(key, ctx, "lent", loan=loan.id, borrower=loan.borrower, consent=consent)
    await audit.record(
        ctx.session,
        actor=lent_by,
        action="key_lent",
        target=f"key:{key.id}",
        detail={"loan": loan.id, "borrower": loan.borrower, "consent": consent},
        now=ctx.now,
    )
    params = await loan_params(ctx, key, loan)
    card = Reply(
        "keys.lent", params, choices=(KeyBack(loan.id or 0).choice("keys.btn.back"),), to=to
    )
    return [card, *await _tell_owners(ctx, key, "keys.owner.out", params)]


async def loan_params(ctx: Context, key: OfficeKey, loan: KeyLoan) -> dict[str, Any]:
    unit = await ctx.session.get(Unit, key.unit_id) if key.unit_id else None
    return {
        "id": key.id,
        "label": key.label,
        "count": key.count,
        "place": place(key),
        "unit": unit.label if unit else "",
        "borrower": loan.borrower,
        "phone": loan.phone or "—",
        "purpose": loan.purpose or "—",
        "since": loan.lent_at,
        "due": loan.due_at,
        "consent": _consent_text(loan.consent),
    }


def _consent_text(consent: str) -> Any:
    way, _, note = consent.partition(": ")
    if not consent:
        return Text("keys.consent.not_needed")
    return Text(f"keys.consent.{way}", {"note": note})


async def _tell_owners(
    ctx: Context, key: OfficeKey, words: str, params: dict[str, Any]
) -> list[Reply]:
    if not rules.needs_consent(key.kind) or key.unit_id is None:
        return []
    told: list[Reply] = []
    for owner in await owners_of(ctx.session, key.unit_id):
        told += [
            Reply(words, params, to=chat) for chat in await person_chats(ctx.session, owner.id)
        ]
    return told


# ---- the owner's consent in chat ----------------------------------------------------------


async def ask_owner(ctx: Context, key: OfficeKey, request: LendRequest) -> list[Reply]:
    """The unit's owners are asked in chat; the key goes out when one agrees."""
    chats: list[Recipient] = []
    for owner in await owners_of(ctx.session, key.unit_id):
        chats += await person_chats(ctx.session, owner.id)
    if not chats:
        return [Reply("keys.error.no_owner_chat", {"label": key.label})]
    ask = len(key.history)
    borrower = request.borrower
    record(
        key,
        ctx,
        "asked",
        ask=ask,
        borrower=borrower.name,
        phone=borrower.phone,
        staff_id=borrower.staff_id,
        person_id=borrower.person_id,
        purpose=request.purpose,
        due=request.due.isoformat() if request.due else "",
        chat=[ctx.msg.channel, ctx.msg.chat_id, ctx.locale],
    )
    unit = await ctx.session.get(Unit, key.unit_id)
    policy = await policy_for(ctx, key.community_id)
    params = {
        "label": key.label,
        "unit": unit.label if unit else "",
        "borrower": borrower.name,
        "purpose": request.purpose or "—",
        "due": request.due or Text("keys.due.default", {"hours": policy.loan_hours}),
    }
    buttons = (
        OwnerAgrees(key.id or 0, ask).choice("keys.btn.agree"),
        OwnerRefuses(key.id or 0, ask).choice("keys.btn.refuse"),
    )
    asks = [Reply("keys.owner.ask", params, choices=buttons, to=chat) for chat in chats]
    return [Reply("keys.asked", params), *asks]


async def _answer_of(ctx: Context, action: OnKey) -> tuple[OfficeKey, dict[str, Any]] | Reply:
    key = await locked_key(ctx, action.key)
    if key is None or ctx.person is None:
        return Reply("dialog.stale")
    if ctx.person.id not in {o.id for o in await owners_of(ctx.session, key.unit_id)}:
        return Reply("dialog.not_allowed")
    asked = pending_ask(key)
    if asked is None or asked.get("ask") != action.ask:
        return Reply("keys.consent.stale")
    return key, asked


def _asker(asked: dict[str, Any]) -> Recipient:
    channel, chat_id, locale = [*(asked.get("chat") or []), "", "", None][:3]
    return Recipient(str(channel), str(chat_id), locale)


async def owner_agrees(ctx: Context, action: OwnerAgrees) -> list[Reply]:
    found = await _answer_of(ctx, action)
    if isinstance(found, Reply):
        return [found]
    key, asked = found
    assert ctx.person is not None
    record(key, ctx, "agreed", ask=action.ask, to=ctx.person.name)
    if key.status != rules.HELD or await open_loan(ctx.session, key.id) is not None:
        return [Reply("keys.consent.stale")]
    due = asked.get("due")
    request = LendRequest(
        key_id=key.id or 0,
        borrower=Borrower(
            str(asked.get("borrower", "")),
            str(asked.get("phone") or ""),
            asked.get("staff_id"),
            asked.get("person_id"),
        ),
        purpose=str(asked.get("purpose") or ""),
        due=datetime.fromisoformat(due) if due else None,
    )
    consent = f"{rules.CONSENT_CHAT}: {ctx.person.name}"
    lent = await lend_now(
        ctx, key, request, consent, lent_by=str(asked.get("by", "")), to=_asker(asked)
    )
    return [Reply("keys.consent.thanks", {"label": key.label}), *lent]


async def owner_refuses(ctx: Context, action: OwnerRefuses) -> list[Reply]:
    found = await _answer_of(ctx, action)
    if isinstance(found, Reply):
        return [found]
    key, asked = found
    assert ctx.person is not None
    record(key, ctx, "refused", ask=action.ask, to=ctx.person.name)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="key_loan_refused",
        target=f"key:{key.id}",
        detail={"borrower": asked.get("borrower")},
        now=ctx.now,
    )
    params = {"label": key.label, "borrower": asked.get("borrower", ""), "owner": ctx.person.name}
    return [
        Reply("keys.consent.noted", params),
        Reply("keys.asked.refused", params, to=_asker(asked)),
    ]


# ---- given back ------------------------------------------------------------------------------


async def give_back(ctx: Context, loan_id: int, brought_by: str = "") -> list[Reply]:
    """The key back in the office: when, who brought it (the borrower unless said), to whom."""
    loan = await ctx.session.get(KeyLoan, loan_id)
    member = keeper(ctx, loan.community_id) if loan is not None else None
    if loan is None or member is None:
        return [Reply("dialog.not_allowed")]
    key = await locked_key(ctx, loan.key_id)
    assert key is not None
    await ctx.session.refresh(loan)  # as it stands now that the key is ours
    if loan.returned_at is not None:
        return [Reply("keys.error.already_back", {"label": key.label, "at": loan.returned_at})]
    loan.returned_at, loan.returned_to = ctx.now, member.name[:100]
    ctx.session.add(loan)
    if key.status == rules.LENT:
        key.status = rules.HELD
    brought = brought_by.strip()[:100] or loan.borrower
    record(key, ctx, "back", loan=loan.id, borrower=brought, to=member.name)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="key_back",
        target=f"key:{key.id}",
        detail={"loan": loan.id, "brought_by": brought},
        now=ctx.now,
    )
    params = {**await loan_params(ctx, key, loan), "brought": brought, "to": member.name}
    params["at"] = ctx.now
    return [Reply("keys.back", params), *await _tell_owners(ctx, key, "keys.owner.back", params)]


async def key_back(ctx: Context, action: KeyBack) -> list[Reply]:
    return await give_back(ctx, action.loan)


async def keyback_command(ctx: Context, argument: str) -> list[Reply]:
    """`/keyback 柜A-12` (or its number, or its unit), `/keyback 柜A-12 李四` when someone
    other than the borrower brought it."""
    kept = [c.id for c in await communities_where(ctx, keeper) if c.id is not None]
    if not kept:
        return [Reply("dialog.not_allowed")]
    ref, _, brought = argument.strip().partition(" ")
    if not ref:
        return [Reply("keys.back.usage")]
    try:
        key = await find_key(ctx, ref, kept)
    except NotFound as missing:
        return [missing.reply]
    loan = await open_loan(ctx.session, key.id)
    if loan is None or loan.id is None:
        return [Reply("keys.error.not_out", {"label": key.label})]
    return await give_back(ctx, loan.id, brought)


# ---- one line: /lend <key> <borrower> [phone] [until …] ----------------------------------------


async def lend_command(ctx: Context, argument: str) -> list[Reply]:
    """`/lend` alone offers the step-by-step flow; `/lend 柜A-12 王师傅 until 18:00` lends at
    once (a unit's key: its owner is asked in chat)."""
    kept = [c.id for c in await communities_where(ctx, keeper) if c.id is not None]
    if not kept:
        return [Reply("dialog.not_allowed")]
    if not argument.strip():
        return [Reply("keys.lend.start", choices=(Choice("flow:key_lend", "keys.btn.lend"),))]
    try:
        typed = rules.parse_lend_line(argument)
    except rules.KeyRuleError as error:
        return [Reply(f"keys.error.{error.reason}")]
    try:
        key = await find_key(ctx, typed.key, kept)
    except NotFound as missing:
        return [missing.reply]
    policy = await policy_for(ctx, key.community_id)
    try:
        due = rules.due_at(typed.due, ctx.now, ctx.settings.tz, policy) if typed.due else None
    except rules.KeyRuleError as error:
        return [Reply(f"keys.error.{error.reason}", {"text": typed.due})]
    borrower = await borrower_named(ctx, key.community_id, typed.borrower, typed.phone)
    consent = rules.CONSENT_CHAT if rules.needs_consent(key.kind) else ""
    replies = await lend(ctx, LendRequest(key.id or 0, borrower, "", due, consent))
    if replies and replies[0].key == "keys.error.no_owner_chat":
        return [
            Reply(
                "keys.error.no_owner_chat",
                replies[0].params,
                choices=(Choice("flow:key_lend", "keys.btn.lend"),),
            )
        ]
    return replies


# ---- overdue -----------------------------------------------------------------------------------


async def overdue_sweep(ctx: Context) -> list[Reply]:
    """Each worker round: every open loan past its due time takes the steps that have
    come (remind the borrower and tell the desk; then tell the supervisors), each once."""
    query = (
        select(KeyLoan)
        .where(col(KeyLoan.returned_at).is_(None), col(KeyLoan.due_at) <= ctx.now)
        .where(col(KeyLoan.escalated_at).is_(None))
        .order_by(col(KeyLoan.due_at), col(KeyLoan.id))
        .limit(BATCH)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # two workers never chase one loan
    replies: list[Reply] = []
    for loan in (await ctx.session.exec(query)).all():
        policy = await policy_for(ctx, loan.community_id)
        steps = rules.overdue_steps(
            loan.due_at, ctx.now, loan.reminders, loan.escalated_at is not None, policy
        )
        if not steps:
            continue
        key = await ctx.session.get(OfficeKey, loan.key_id)
        assert key is not None
        params = await loan_params(ctx, key, loan)
        params["late"] = int((ctx.now - loan.due_at).total_seconds() // 3600)
        for step in steps:
            if step == rules.REMIND:
                replies += await _remind(ctx, loan, params)
                loan.reminders += 1
            else:
                supervisors = await people_with_role(ctx.session, loan.community_id, "supervisor")
                supervisors = supervisors or await people_with_role(
                    ctx.session, loan.community_id, "director"
                )
                replies += [Reply("keys.overdue.supervisor", params, to=c) for c in supervisors]
                loan.escalated_at = ctx.now
            record(key, ctx, f"overdue_{step}", loan=loan.id, borrower=loan.borrower)
        ctx.session.add(loan)
    return replies


async def _remind(ctx: Context, loan: KeyLoan, params: dict[str, Any]) -> list[Reply]:
    chats = await borrower_chats(ctx, loan)
    told = [Reply("keys.overdue.borrower", params, to=chat) for chat in chats]
    words = "keys.overdue.desk" if chats else "keys.overdue.desk_phone"
    desk = [Reply(words, params, to=chat) for chat in await desk_chats(ctx, loan.community_id)]
    return [*told, *desk]
