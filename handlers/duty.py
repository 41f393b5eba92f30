"""Who is on duty (值班): the supervisor an emergency reaches first, day or night.

A supervisor or director takes the duty for their community with `/duty` and hands it
back with `/duty off`; the next one to take it replaces them. With nobody on duty an
emergency goes to every supervisor of the community, so it never reaches no one.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.context import Context
from handlers.core.messages import Recipient, Reply
from handlers.core.roles import MANAGERS
from handlers.directory import people_with_role, private_chat
from storage import audit
from storage.models import Community, KeyValue, StaffMember
from storage.upsert import insert


def _key(community_id: int) -> str:
    return f"duty:{community_id}"


async def duty_member(session: AsyncSession, community_id: int) -> tuple[StaffMember, str] | None:
    """The staff member on duty in a community and since when (ISO time), if any."""
    row = await session.get(KeyValue, _key(community_id))
    if row is None:
        return None
    held = json.loads(row.value)
    member = await session.get(StaffMember, held["member"])
    if member is None or not member.active:
        return None
    return member, held["since"]


async def on_duty(session: AsyncSession, community_id: int) -> list[Recipient]:
    """Where an emergency goes first: the one on duty, else every supervisor."""
    found = await duty_member(session, community_id)
    if found is not None:
        return [private_chat(found[0])]
    return await people_with_role(session, community_id, "supervisor")


async def _communities(ctx: Context, code: str) -> list[Community] | Reply:
    """The communities the sender may take duty for: their own, or the one named."""
    members = [m for m in ctx.staff if m.active and m.role in MANAGERS]
    query = select(Community).order_by(col(Community.id))
    if code:
        query = query.where(Community.code == code.upper())
    found = list((await ctx.session.exec(query)).all())
    if any(m.community_id is None for m in members):
        if not code and len(found) > 1:
            return Reply("duty.which")
        return found or Reply("supervisor.error.community", {"code": code})
    mine = {m.community_id for m in members}
    allowed = [c for c in found if c.id in mine]
    if code and not allowed:
        return Reply("dialog.not_allowed")
    return allowed


async def duty_command(ctx: Context, argument: str) -> list[Reply]:
    """`/duty` takes the duty, `/duty off` hands it back, `/duty who` shows who has it."""
    words = argument.split()
    verb = words[0].lower() if words and words[0].lower() in ("off", "who") else ""
    code = next((w for w in words if w.lower() not in ("off", "who")), "")
    communities = await _communities(ctx, code)
    if isinstance(communities, Reply):
        return [communities]
    member = next(m for m in ctx.staff if m.active and m.role in MANAGERS)
    replies: list[Reply] = []
    for community in communities:
        assert community.id is not None
        held = await duty_member(ctx.session, community.id)
        if verb == "who":
            shown: dict[str, Any] = {"community": community.name}
            if held is not None:
                shown |= {"name": held[0].name, "since": datetime.fromisoformat(held[1])}
            replies.append(Reply("duty.show" if held else "duty.none", shown))
            continue
        if verb == "off":
            if held is None or held[0].external_user_id != member.external_user_id:
                replies.append(Reply("duty.not_on"))
                continue
            row = await ctx.session.get(KeyValue, _key(community.id))
            if row is not None:
                await ctx.session.delete(row)
            replies.append(Reply("duty.off", {"community": community.name}))
        else:
            value = json.dumps({"member": member.id, "since": ctx.now.isoformat()})
            await ctx.session.exec(
                insert(ctx.session, KeyValue)
                .values(key=_key(community.id), value=value)
                .on_conflict_do_update(index_elements=["key"], set_={"value": value})
            )
            replies.append(Reply("duty.taken", {"community": community.name}))
        await audit.record(
            ctx.session,
            actor=ctx.actor,
            action="duty_off" if verb == "off" else "duty_on",
            target=community.code,
            now=ctx.now,
        )
    return replies
