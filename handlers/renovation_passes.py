"""Workers' temporary passes (临时出入证) of an approved renovation, and the gate's check.

On approval every worker gets a pass: a short unguessable code and a QR image, valid on
the renovation's days (`starts`..`ends`) within the community's permitted hours
(`renovation_hours`, the community's local time). The applicant receives the codes and
images. The guard checks a pass with `/pass <code>` in chat or on the desk's gate page
and lets the worker in, or is told why not (handlers/rules/renovation.py
`gate_refusal`). Every check is kept in the pass's `checks` and in the audit log. At the
renovation's end the passes expire; an extension or early finish moves their last day.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import qrcode
from sqlmodel import col, select

from handlers import policies
from handlers.core.actions import Action
from handlers.core.context import Context
from handlers.core.messages import Choice, Reply, Text
from handlers.core.roles import MANAGERS
from handlers.directory import department_chats, person_chats
from handlers.rules import renovation as rules
from handlers.rules import slip as slip_rules
from handlers.rules.phone import mask_phone
from handlers.staffauth import acting_member
from storage import audit
from storage.models import (
    Department,
    Renovation,
    RenovationStatus,
    Unit,
    WorkerPass,
)

QR_PREFIX = "FDPASS:"
CODE_LENGTH = 8
ACTIVE, REVOKED, EXPIRED = "active", "revoked", "expired"


# ---- issuing and ending ------------------------------------------------------------------


async def _unused_code(ctx: Context) -> str:
    while True:
        code = slip_rules.new_code(secrets.randbelow, CODE_LENGTH)
        taken = await ctx.session.exec(select(WorkerPass.id).where(WorkerPass.code == code))
        if taken.first() is None:
            return code


def normalise_code(text: str) -> str:
    return text.strip().upper().removeprefix(QR_PREFIX).strip()[:12]


async def qr_image(code: str, directory: Path) -> Path:
    """A PNG QR code of the pass, to show at the gate; written once per code."""

    def write() -> Path:
        path = directory.resolve() / f"{code}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            qrcode.make(QR_PREFIX + code).save(path)
        return path

    return await asyncio.to_thread(write)


def _image_dir(ctx: Context) -> Path:
    return Path(ctx.settings.data_dir) / "passes"


async def _to_applicant(
    ctx: Context, renovation: Renovation, key: str, params: Mapping[str, Any], photo: str | None
) -> list[Reply]:
    """The applicant answered here while they write; in their own chats otherwise."""
    if ctx.person is not None and ctx.person.id == renovation.applicant_id:
        return [Reply(key, params, photo=photo)]
    return [
        Reply(key, params, photo=photo, to=chat)
        for chat in await person_chats(ctx.session, renovation.applicant_id)
    ]


async def issue(
    ctx: Context, renovation: Renovation, workers: list[tuple[str, str]]
) -> tuple[list[WorkerPass], list[Reply]]:
    """One pass per worker `(name, phone)`, valid from the renovation's first day to its
    last; the applicant gets the list of codes and each pass's QR image."""
    assert renovation.id is not None
    unit = await ctx.session.get(Unit, renovation.unit_id)
    passes: list[WorkerPass] = []
    for name, phone in workers:
        found = WorkerPass(
            renovation_id=renovation.id,
            code=await _unused_code(ctx),
            name=name.strip()[:100],
            phone=phone.strip()[:30],
            valid_from=renovation.starts,
            valid_to=renovation.ends,
            status=ACTIVE,
        )
        ctx.session.add(found)
        await ctx.session.flush()
        passes.append(found)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="renovation_passes_issued",
        target=renovation.permit_number or f"renovation:{renovation.id}",
        detail={"renovation_id": renovation.id, "codes": [p.code for p in passes]},
        now=ctx.now,
    )
    hours = await policies.for_community(ctx.session, ctx.settings, renovation.community_id)
    lines = [Text("renopass.line", {"name": p.name, "code": p.code}) for p in passes]
    summary = {
        "unit": unit.label if unit else "",
        "count": len(passes),
        "from": renovation.starts,
        "to": renovation.ends,
        "hours": hours.renovation_hours,
        "passes": _joined(lines),
    }
    replies = await _to_applicant(ctx, renovation, "renopass.issued", summary, None)
    for found in passes:
        image = await qr_image(found.code, _image_dir(ctx))
        replies += await _to_applicant(
            ctx, renovation, "renopass.image", {"name": found.name, "code": found.code}, str(image)
        )
    return passes, replies


def _joined(lines: list[Any]) -> Any:
    if not lines:
        return ""
    joined: Any = lines[0]
    for line in lines[1:]:
        joined = Text("renopass.join", {"a": joined, "b": line})
    return joined


async def passes_of(ctx: Context, renovation_id: int) -> list[WorkerPass]:
    rows = await ctx.session.exec(
        select(WorkerPass)
        .where(WorkerPass.renovation_id == renovation_id)
        .order_by(col(WorkerPass.id))
    )
    return list(rows.all())


async def expire(ctx: Context, renovation: Renovation) -> None:
    """Every active pass of the renovation expires (its end, a refusal after approval)."""
    assert renovation.id is not None
    codes = []
    for found in await passes_of(ctx, renovation.id):
        if found.status == ACTIVE:
            found.status = EXPIRED
            ctx.session.add(found)
            codes.append(found.code)
    if codes:
        await audit.record(
            ctx.session,
            actor=ctx.actor,
            action="renovation_passes_expired",
            target=renovation.permit_number or f"renovation:{renovation.id}",
            detail={"renovation_id": renovation.id, "codes": codes},
            now=ctx.now,
        )
        await ctx.session.flush()


async def move_end(ctx: Context, renovation: Renovation, ends: date) -> None:
    """The renovation's last day moved (extension or early finish): the active passes'
    last day moves with it."""
    assert renovation.id is not None
    for found in await passes_of(ctx, renovation.id):
        if found.status == ACTIVE:
            found.valid_to = ends
            ctx.session.add(found)
    await ctx.session.flush()


# ---- at the gate -------------------------------------------------------------------------


def guards(ctx: Context) -> bool:
    """Whether the sender checks passes at the gate: security staff, the desk, managers."""
    return any(
        m.active
        and (m.role in MANAGERS or m.department in (Department.security, Department.service))
        for m in ctx.staff
    )


def _gate_member(ctx: Context, community_id: int) -> Any:
    return acting_member(ctx, community_id, Department.security) or acting_member(
        ctx, community_id, Department.service
    )


@dataclass(frozen=True)
class LetIn(Action):
    """The guard lets the pass's holder in."""

    name: ClassVar[str] = "renopass_in"
    worker_pass: int


@dataclass(frozen=True)
class Refuse(Action):
    """The guard turns the holder away (the pass does not let them in now)."""

    name: ClassVar[str] = "renopass_no"
    worker_pass: int


@dataclass(frozen=True)
class PassChecked:
    """What the gate's check found (nothing recorded): `verdict` is "valid", a refusal
    of `rules.gate_refusal`, "unknown" (no such code, or another community's) or
    "not_allowed"; `reply` is what the guard is told."""

    verdict: str
    reply: Reply
    worker_pass: WorkerPass | None = None
    card: Mapping[str, Any] | None = None


async def _found(ctx: Context, pass_id: int) -> tuple[WorkerPass, Renovation] | None:
    found = await ctx.session.get(WorkerPass, pass_id)
    renovation = await ctx.session.get(Renovation, found.renovation_id) if found else None
    return (found, renovation) if found and renovation else None


async def verdict_of(ctx: Context, found: WorkerPass, renovation: Renovation) -> str:
    settings = await policies.for_community(ctx.session, ctx.settings, renovation.community_id)
    refusal = rules.gate_refusal(
        active=found.status == ACTIVE and renovation.status == RenovationStatus.approved,
        valid_from=found.valid_from,
        valid_to=found.valid_to,
        hours=rules.parse_hours(settings.renovation_hours),
        local_now=ctx.now.astimezone(settings.tz),
    )
    return refusal or "valid"


async def card(ctx: Context, found: WorkerPass, renovation: Renovation) -> dict[str, Any]:
    unit = await ctx.session.get(Unit, renovation.unit_id)
    settings = await policies.for_community(ctx.session, ctx.settings, renovation.community_id)
    return {
        "code": found.code,
        "name": found.name,
        "phone": mask_phone(found.phone),
        "unit": unit.label if unit else "",
        "contractor": renovation.contractor,
        "permit": renovation.permit_number or "-",
        "from": found.valid_from,
        "to": found.valid_to,
        "hours": settings.renovation_hours,
        "status": Text(f"renopass.status.{found.status}"),
    }


async def checked(ctx: Context, code: str) -> PassChecked:
    """The guard's check of a pass code (chat's `/pass <code>` and the gate page)."""
    if not guards(ctx):
        return PassChecked("not_allowed", Reply("dialog.not_allowed"))
    wanted = normalise_code(code)
    unknown = Reply("renopass.unknown", {"code": wanted})
    found = (await ctx.session.exec(select(WorkerPass).where(WorkerPass.code == wanted))).first()
    renovation = await ctx.session.get(Renovation, found.renovation_id) if found else None
    if found is None or renovation is None:
        return PassChecked("unknown", unknown)
    if _gate_member(ctx, renovation.community_id) is None:
        return PassChecked("unknown", unknown)  # another community's
    verdict = await verdict_of(ctx, found, renovation)
    shown = {**await card(ctx, found, renovation), "verdict": Text(f"renopass.verdict.{verdict}")}
    choices: tuple[Choice, ...] = ()
    if verdict == "valid":
        choices = (
            LetIn(worker_pass=found.id or 0).choice("renopass.let_in"),
            Refuse(worker_pass=found.id or 0).choice("renopass.refuse"),
        )
    return PassChecked(verdict, Reply("renopass.check", shown, choices=choices), found, shown)


async def check(ctx: Context, code: str) -> list[Reply]:
    """`/pass <code>`: the worker, unit, contractor, the permit's dates and hours; a pass
    that does not let its holder in now is recorded as refused with the reason."""
    if not code.strip():
        return [Reply("renopass.usage" if guards(ctx) else "dialog.not_allowed")]
    found = await checked(ctx, code)
    if found.worker_pass is not None and found.verdict != "valid":
        renovation = await ctx.session.get(Renovation, found.worker_pass.renovation_id)
        if renovation is not None:
            await _record(ctx, found.worker_pass, renovation, "refused", found.verdict)
    return [found.reply]


def looks_like_pass(text: str) -> bool:
    """Whether a code typed or scanned at the gate is a worker's pass (not a slip's)."""
    raw = text.strip().upper()
    return raw.startswith(QR_PREFIX) or len(normalise_code(raw)) == CODE_LENGTH


async def _record(
    ctx: Context, found: WorkerPass, renovation: Renovation, outcome: str, reason: str = ""
) -> None:
    entry = {"at": ctx.now.isoformat(), "by": ctx.actor, "outcome": outcome, "reason": reason}
    found.checks = [*found.checks, entry]
    ctx.session.add(found)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action=f"renovation_pass_{outcome}",
        target=found.code,
        detail={"renovation_id": renovation.id, "pass_id": found.id, "reason": reason},
        now=ctx.now,
    )
    await ctx.session.flush()


async def let_in(ctx: Context, action: LetIn) -> list[Reply]:
    """The worker goes in: checked again now (the hour may have passed), then recorded."""
    found = await _found(ctx, action.worker_pass)
    if found is None:
        return [Reply("dialog.stale")]
    worker_pass, renovation = found
    if _gate_member(ctx, renovation.community_id) is None:
        return [Reply("dialog.not_allowed")]
    verdict = await verdict_of(ctx, worker_pass, renovation)
    shown = await card(ctx, worker_pass, renovation)
    if verdict != "valid":
        await _record(ctx, worker_pass, renovation, "refused", verdict)
        reason = Text(f"renopass.verdict.{verdict}")
        return [Reply("renopass.refused", {**shown, "reason": reason})]
    await _record(ctx, worker_pass, renovation, "let_in")
    return [Reply("renopass.let_in.done", shown)]


async def refuse(ctx: Context, action: Refuse) -> list[Reply]:
    """The guard turned the holder away although the pass is valid (recorded)."""
    found = await _found(ctx, action.worker_pass)
    if found is None:
        return [Reply("dialog.stale")]
    worker_pass, renovation = found
    if _gate_member(ctx, renovation.community_id) is None:
        return [Reply("dialog.not_allowed")]
    await _record(ctx, worker_pass, renovation, "refused", "guard")
    shown = await card(ctx, worker_pass, renovation)
    return [Reply("renopass.refused", {**shown, "reason": Text("renopass.verdict.guard")})]


REVOKE_WORDS = ("revoke", "收回", "作废")


async def pass_command(ctx: Context, argument: str) -> list[Reply]:
    """`/pass <code>` in chat: the guard's check (security, the desk, managers);
    `/pass 收回 <code>` (or `revoke`): the desk takes a worker's pass back."""
    first, _, rest = argument.strip().partition(" ")
    if first.lower() in REVOKE_WORDS:
        return await revoke(ctx, rest)
    return await check(ctx, argument)


async def revoke(ctx: Context, code: str) -> list[Reply]:
    """The desk (or a manager) of the pass's community takes it back: void at the gate at
    once; the applicant and the security group are told; audited."""
    wanted = normalise_code(code)
    found = (await ctx.session.exec(select(WorkerPass).where(WorkerPass.code == wanted))).first()
    renovation = await ctx.session.get(Renovation, found.renovation_id) if found else None
    if found is None or renovation is None:
        if not guards(ctx):
            return [Reply("dialog.not_allowed")]
        return [Reply("renopass.unknown", {"code": wanted})]
    if acting_member(ctx, renovation.community_id, Department.service) is None:
        if _gate_member(ctx, renovation.community_id) is None:
            return [Reply("renopass.unknown", {"code": wanted})]
        return [Reply("dialog.not_allowed")]
    shown = await card(ctx, found, renovation)
    if found.status != ACTIVE:
        return [Reply("renopass.revoke.already", shown)]
    found.status = REVOKED
    ctx.session.add(found)
    await audit.record(
        ctx.session,
        actor=ctx.actor,
        action="renovation_pass_revoked",
        target=found.code,
        detail={"renovation_id": renovation.id, "pass_id": found.id},
        now=ctx.now,
    )
    await ctx.session.flush()
    shown = await card(ctx, found, renovation)
    told = [
        Reply("renopass.revoked.notice", shown, to=chat)
        for chat in [
            *await person_chats(ctx.session, renovation.applicant_id),
            *await department_chats(ctx.session, renovation.community_id, Department.security),
        ]
    ]
    return [Reply("renopass.revoked", shown), *told]
