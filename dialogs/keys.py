"""The key register and key loans (钥匙借用) in chat: the desk's `/keys` (the register,
`/keys add …`, `/keys 柜A-12` one key's card), `/lend` (one line, or step by step: which
key, to whom, why, until when, and for a unit's key how its owner agreed), `/keyback`,
the owner's 同意/不同意 buttons and `/mykeys`; the sweep that chases overdue keys.

Who may: the community's service desk and managers keep the register and lend; security
staff list it (they need to know where a plant room's key is at night) but do not lend;
an owner sees their own unit's keys; residents nothing else (handlers/keys.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dialogs import parsers
from dialogs.engine import Command, StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import key_loans, keys
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import STAFF_ROLES
from handlers.directory import person_chats
from handlers.rules import keys as rules
from storage.models import OfficeKey

DEFAULT = "due:default"


async def _kept(ctx: Context) -> list[int]:
    return [c.id for c in await keys.communities_where(ctx, keys.keeper) if c.id is not None]


async def key_answer(answer: Answer, ctx: Context, answers: Answers) -> dict[str, Any]:
    """The key by its place, number, label or unit; one the sender may lend now."""
    try:
        key = await keys.find_key(ctx, bounded_text(answer, 60), await _kept(ctx))
    except keys.NotFound as missing:
        raise InputError(missing.reply.key, **missing.reply.params) from None
    found = await key_loans.may_lend(ctx, key)
    if isinstance(found, Reply):
        raise InputError(found.key, **found.params)
    return {"id": key.id, "kind": key.kind, "label": key.label, "community": key.community_id}


async def borrower_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    staff = await keys.community_staff(ctx.session, answers["key"]["community"])
    return [
        Choice(
            f"staff:{m.id}",
            "keys.lend.staff.option",
            {
                "name": m.name,
                "department": Text(f"department.{m.department}")
                if m.department
                else Text(f"people.role.{m.role}"),
            },
        )
        for m in staff
        if m.channel != "web"
    ][:12]


async def borrower_answer(answer: Answer, ctx: Context, answers: Answers) -> dict[str, Any]:
    community_id = answers["key"]["community"]
    if answer.option and answer.option.startswith("staff:"):
        for member in await keys.community_staff(ctx.session, community_id):
            if f"staff:{member.id}" == answer.option:
                return {"name": member.name, "staff_id": member.id}
        raise InputError("dialog.error.choose")
    found = await key_loans.borrower_named(ctx, community_id, parsers.name(answer, ctx, answers))
    return {"name": found.name, "staff_id": found.staff_id}


def _outsider(answers: Answers) -> bool:
    return "borrower" in answers and answers["borrower"].get("staff_id") is None


def due_answer(answer: Answer, ctx: Context, answers: Answers) -> str:
    if answer.option == DEFAULT:
        return ""
    try:
        due = rules.due_at(bounded_text(answer, 40), ctx.now, ctx.settings.tz, rules.KeyPolicy())
    except rules.KeyRuleError as error:
        raise InputError(f"keys.error.{error.reason}", text=answer.text or "") from None
    return due.isoformat()


async def due_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    policy = await keys.policy_for(ctx, answers["key"]["community"])
    return [Choice(DEFAULT, "keys.due.default", {"hours": policy.loan_hours})]


async def consent_choices(ctx: Context, answers: Answers) -> Sequence[Choice]:
    key = await ctx.session.get(OfficeKey, answers["key"]["id"])
    reachable = False
    for owner in await keys.owners_of(ctx.session, key.unit_id if key else None):
        reachable |= bool(await person_chats(ctx.session, owner.id))
    ways = ([rules.CONSENT_CHAT] if reachable else []) + list(rules.RECORDED_CONSENT)
    return [Choice(f"consent:{w}", f"keys.lend.consent.{w}") for w in ways]


def consent_answer(answer: Answer, ctx: Context, answers: Answers) -> str:
    ways = (rules.CONSENT_CHAT, *rules.RECORDED_CONSENT)
    if answer.option and answer.option.startswith("consent:") and answer.option[8:] in ways:
        return answer.option[8:]
    raise InputError("dialog.error.choose")


def _unit_key(answers: Answers) -> bool:
    return "key" in answers and rules.needs_consent(answers["key"]["kind"])


def _recorded(answers: Answers) -> bool:
    return _unit_key(answers) and answers.get("consent") in rules.RECORDED_CONSENT


async def _start(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    if not await _kept(ctx):
        return [Reply("dialog.not_allowed")]
    return {}


async def _summary(ctx: Context, answers: Answers) -> dict[str, Any]:
    borrower = answers["borrower"]
    due = answers.get("due")
    consent = answers.get("consent")
    hours = (await keys.policy_for(ctx, answers["key"]["community"])).loan_hours
    return {
        "label": answers["key"]["label"],
        "borrower": borrower["name"],
        "phone": answers.get("phone") or "—",
        "purpose": answers.get("purpose") or "—",
        "due": _due_text(due) if due else Text("keys.due.default", {"hours": hours}),
        "consent": Text(f"keys.lend.consent.{consent}")
        if consent
        else Text("keys.consent.not_needed"),
    }


def _due_text(value: str) -> Any:
    return datetime.fromisoformat(value)


async def _finish(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    key = answers["key"]
    picked = answers["borrower"]
    if picked.get("staff_id") is not None:
        borrower = key_loans.Borrower(picked["name"], staff_id=picked["staff_id"])
    else:
        borrower = await key_loans.borrower_named(
            ctx, key["community"], picked["name"], answers.get("phone") or ""
        )
    due = answers.get("due")
    return await key_loans.lend(
        ctx,
        key_loans.LendRequest(
            key_id=key["id"],
            borrower=borrower,
            purpose=answers.get("purpose") or "",
            due=_due_text(due) if due else None,
            consent=answers.get("consent") or "",
            consent_note=answers.get("consent_note") or "",
        ),
    )


LEND = Flow(
    name="key_lend",
    title="keys.lend.title",
    steps=(
        Step("key", "keys.lend.key.prompt", parse=key_answer),
        Step(
            "borrower", "keys.lend.borrower.prompt", parse=borrower_answer, choices=borrower_choices
        ),
        Step("phone", "keys.lend.phone.prompt", parse=parsers.phone, when=_outsider),
        Step("purpose", "keys.lend.purpose.prompt", parse=parsers.short_text, optional=True),
        Step("due", "keys.lend.due.prompt", parse=due_answer, choices=due_choices),
        Step(
            "consent",
            "keys.lend.consent.prompt",
            parse=consent_answer,
            choices=consent_choices,
            when=_unit_key,
        ),
        Step(
            "consent_note",
            "keys.lend.consent_note.prompt",
            parse=parsers.short_text,
            when=_recorded,
        ),
    ),
    summary="keys.lend.summary",
    summarize=_summary,
    finish=_finish,
    start=_start,
    in_menu=False,
    in_groups=True,
)

KEEPERS = STAFF_ROLES  # checked by community and department in handlers/keys.py

FEATURE = Feature(
    name="keys",
    flows=[LEND],
    commands=[
        Command("keys", keys.keys_command, roles=KEEPERS),
        Command("lend", key_loans.lend_command, roles=KEEPERS),
        Command("keyback", key_loans.keyback_command, roles=KEEPERS),
        Command("mykeys", keys.mykeys_command, private_only=True),
    ],
    actions={
        key_loans.OwnerAgrees: key_loans.owner_agrees,
        key_loans.OwnerRefuses: key_loans.owner_refuses,
        key_loans.KeyBack: key_loans.key_back,
    },
    sweeps=[key_loans.overdue_sweep],
    for_staff=[StaffEntry(STAFF_ROLES, "keys.help.desk")],
)
