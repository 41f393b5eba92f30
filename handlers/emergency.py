"""The emergency short path (突发事件): confirm the place, the work order at once, advice.

"电梯坏了，有人被困在里面了！" is not a form to fill in. The resident confirms where (one of
their units, a common area, or the place typed), leaves a phone number if we have none,
and the work order is created and pushed urgently at once (handlers/work_orders.py); the
answer says who has been told, who is coming, the duty phone and what to do right now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.core.context import Context
from handlers.core.messages import Reply, Text
from handlers.repair import units_for
from handlers.rules.urgency import Urgency, category_for, department_for
from handlers.work_orders import create_work_order, emergency_of, emergency_reply
from storage.models import Unit

COMMON = "common"
TYPED = "place:"  # a place typed instead of choosing one


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """Only an emergency described in words starts here; anything else is a repair."""
    text = (initial or "").strip()
    kind = emergency_of(ctx, text) if text else None
    if kind is None:
        return [Reply("dialog.stale")]
    answers: dict[str, Any] = {"_description": text[:1000], "_kind": kind}
    if ctx.person is not None and ctx.person.phone:
        answers["_phone"] = ctx.person.phone
    return answers


async def _unit(ctx: Context, answers: Mapping[str, Any]) -> Unit | None:
    value = str(answers.get("unit", ""))
    if not value.startswith("unit:"):
        return None
    return next((u for u in await units_for(ctx) if str(u.id) == value[5:]), None)


def place_of(answers: Mapping[str, Any]) -> str:
    """The place typed, either instead of a choice or after choosing a common area."""
    value = str(answers.get("unit", ""))
    return value[len(TYPED) :] if value.startswith(TYPED) else str(answers.get("location", ""))


async def prompt_params(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    return {"what": Text(f"emergency.kind.{answers['_kind']}")}


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    kind = str(answers["_kind"])
    unit = await _unit(ctx, answers)
    order = await create_work_order(
        ctx,
        unit=unit,
        category=category_for(kind),
        description=str(answers["_description"]),
        name=ctx.person.name if ctx.person else ctx.msg.user_name[:100],
        phone=str(answers.get("phone") or answers.get("_phone") or ""),
        details={"location": "" if unit else place_of(answers), "time": "", "photos": []},
        urgency=Urgency(True, kind),
        department=department_for(kind),
    )
    if isinstance(order, Reply):
        return [order]
    ticket, pushes = order
    return [await emergency_reply(ctx, ticket, unit, kind), *pushes]
