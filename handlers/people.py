"""Staff, supervisors and directors: the first ones from settings, the rest added by supervisors."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.context import Context
from handlers.core.messages import Reply, Text
from handlers.core.roles import MANAGERS
from storage import audit
from storage.models import Community, Department, StaffGroup, StaffMember, StaffRole

if TYPE_CHECKING:
    from bot.settings import Settings

# `web`: the desk's web workspace, where the user id is the login (`frontdesk staff passwd`).
CHANNELS = ("console", "telegram", "wechat", "wecom", "web")
ROLES = tuple(r.value for r in StaffRole)


async def add_staff(
    session: AsyncSession,
    *,
    channel: str,
    user_id: str,
    name: str,
    role: str = StaffRole.staff,
    department: str | None = None,
    community_id: int | None = None,
) -> StaffMember:
    """Add a staff member, or update the one with the same chat account and community."""
    member = (
        await session.exec(
            select(StaffMember).where(
                StaffMember.channel == channel,
                StaffMember.external_user_id == user_id,
                StaffMember.community_id == community_id,
            )
        )
    ).first()
    if member is None:
        member = StaffMember(
            channel=channel, external_user_id=user_id, community_id=community_id, name=name
        )
        session.add(member)
    member.name, member.role, member.department, member.active = name, role, department, True
    await session.flush()
    return member


async def ensure_first_supervisors(session: AsyncSession, settings: Settings) -> None:
    """Supervisors named in settings, and staff listed in the TOML file, exist as staff rows."""
    for channel in CHANNELS:
        for user_id in settings.supervisors(channel):
            await add_staff(
                session,
                channel=channel,
                user_id=user_id,
                name=f"supervisor {user_id}",
                role=StaffRole.supervisor,
            )
    for entry in settings.staff:
        community_id = None
        if entry.community:
            community = (
                await session.exec(select(Community).where(Community.code == entry.community))
            ).first()
            community_id = community.id if community else None
        await add_staff(
            session,
            channel=entry.channel,
            user_id=entry.user_id,
            name=entry.name,
            role=entry.role,
            department=entry.department,
            community_id=community_id,
        )


async def whoami(ctx: Context, argument: str) -> list[Reply]:
    """`/whoami`: the sender's chat id and roles, so a supervisor can add them as staff."""
    roles = ", ".join(sorted({m.role for m in ctx.staff})) or "-"
    return [
        Reply(
            "people.whoami",
            {
                "channel": ctx.msg.channel,
                "user": ctx.msg.user_id,
                "chat": ctx.msg.chat_id,
                "roles": roles,
            },
        )
    ]


DEPARTMENTS = tuple(d.value for d in Department)


async def _community_for(ctx: Context, code: str | None) -> Community | None:
    """The community a manager acts for: their own, or the one named by code."""
    own = {m.community_id for m in ctx.staff if m.role in MANAGERS and m.active}
    if code:
        community = (
            await ctx.session.exec(select(Community).where(Community.code == code.upper()))
        ).first()
        if community is not None and (None in own or community.id in own):
            return community
        return None
    ids = [i for i in own if i is not None]
    if len(ids) == 1:
        return await ctx.session.get(Community, ids[0])
    if None in own:
        communities = (await ctx.session.exec(select(Community))).all()
        return communities[0] if len(communities) == 1 else None
    return None


async def bind_group(ctx: Context, argument: str) -> list[Reply]:
    """`/bind <department> [community]` in a group: it becomes that department's group."""
    if ctx.msg.chat_kind != "group":
        return [Reply("people.bind.group_only")]
    parts = argument.split()
    if not parts or parts[0].lower() not in DEPARTMENTS:
        return [Reply("people.bind.usage", {"departments": " / ".join(DEPARTMENTS)})]
    department = parts[0].lower()
    community = await _community_for(ctx, parts[1] if len(parts) > 1 else None)
    if community is None or community.id is None:
        return [Reply("people.bind.which_community")]
    await bind_department(
        ctx.session,
        community,
        department,
        ctx.msg.channel,
        ctx.msg.chat_id,
        actor=ctx.actor,
        now=ctx.now,
    )
    return [
        Reply(
            "people.bind.done",
            {"community": community.name, "department": Text(f"department.{department}")},
        )
    ]


async def bind_department(
    session: AsyncSession,
    community: Community,
    department: str,
    channel: str,
    chat_id: str,
    *,
    actor: str,
    now: datetime,
) -> StaffGroup:
    """A department's cards go to this chat of a channel from now on (one chat per
    department and channel: binding again moves them); audited. `/bind` in a group, and
    `frontdesk wecom-group` for WeCom, where no group can type `/bind`."""
    assert community.id is not None
    group = (
        await session.exec(
            select(StaffGroup).where(
                StaffGroup.community_id == community.id,
                StaffGroup.department == department,
                StaffGroup.channel == channel,
            )
        )
    ).first()
    if group is None:
        group = StaffGroup(
            community_id=community.id, department=department, channel=channel, chat_id=chat_id
        )
    group.chat_id = chat_id
    session.add(group)
    await audit.record(
        session,
        actor=actor,
        action="bind_group",
        target=f"{channel}:{chat_id}",
        detail={"community": community.code, "department": department},
        now=now,
    )
    return group


# Roles rank: nobody grants or takes away a role above their own.
RANK = {StaffRole.staff: 1, StaffRole.supervisor: 2, StaffRole.director: 3}


def _rank(ctx: Context, community_id: int | None) -> int:
    """The sender's highest role that acts for this community (company-wide ones do)."""
    return max(
        (
            RANK.get(StaffRole(m.role), 0)
            for m in ctx.staff
            if m.active and m.community_id in (None, community_id)
        ),
        default=0,
    )


async def _held(ctx: Context, community_id: int, user_id: str) -> list[StaffMember]:
    return list(
        (
            await ctx.session.exec(
                select(StaffMember).where(
                    StaffMember.community_id == community_id,
                    StaffMember.channel == ctx.msg.channel,
                    StaffMember.external_user_id == user_id,
                )
            )
        ).all()
    )


async def staff_command(ctx: Context, argument: str) -> list[Reply]:
    """`/staff [CODE] add <user> <department> <name> [role]`, `/staff [CODE] remove <user>`,
    `/staff [CODE] list`; the code names the community when the sender manages several."""
    words = argument.split()
    code = words.pop(0) if words and words[0].lower() not in ("add", "remove", "list") else None
    verb, rest = (words[0].lower(), " ".join(words[1:])) if words else ("", "")
    community = await _community_for(ctx, code)
    if community is None or community.id is None:
        return [Reply("people.staff.which_community")]
    mine = _rank(ctx, community.id)
    if verb == "list":
        members = (
            await ctx.session.exec(
                select(StaffMember).where(
                    StaffMember.community_id == community.id, col(StaffMember.active).is_(True)
                )
            )
        ).all()
        lines = [
            Text(
                "people.staff.line",
                {
                    "name": m.name,
                    "user": m.external_user_id,
                    "role": Text(f"people.role.{m.role}"),
                    "department": Text(f"department.{m.department}") if m.department else "-",
                },
            )
            for m in members
        ]
        return [Reply("people.staff.list", {"community": community.name, "lines": lines})]
    words = rest.split()
    if verb == "add" and len(words) >= 3 and words[1].lower() in DEPARTMENTS:
        user_id, department, *name_words = words
        role = "staff"
        if len(name_words) >= 2 and name_words[-1].lower() in ROLES:
            role = name_words.pop().lower()
        name = " ".join(name_words)
        held = await _held(ctx, community.id, user_id)
        above = [m.role for m in held if m.active and RANK.get(StaffRole(m.role), 0) > mine]
        if RANK[StaffRole(role)] > mine or above:
            return [
                Reply(
                    "people.staff.above",
                    {"role": Text(f"people.role.{above[0] if above else role}")},
                )
            ]
        member = await add_staff(
            ctx.session,
            channel=ctx.msg.channel,
            user_id=user_id,
            name=name[:100],
            role=role,
            department=department.lower(),
            community_id=community.id,
        )
        await audit.record(
            ctx.session,
            actor=ctx.actor,
            action="staff_add",
            target=user_id,
            detail={"role": role, "department": member.department},
            now=ctx.now,
        )
        return [
            Reply(
                "people.staff.added",
                {
                    "name": member.name,
                    "department": Text(f"department.{member.department}"),
                    "role": Text(f"people.role.{role}"),
                },
            )
        ]
    if verb == "remove" and len(words) == 1:
        held = await _held(ctx, community.id, words[0])
        leaving = held[0] if held else None
        if leaving is None:
            return [Reply("people.staff.unknown", {"user": words[0]})]
        if RANK.get(StaffRole(leaving.role), 0) > mine:
            return [Reply("people.staff.above", {"role": Text(f"people.role.{leaving.role}")})]
        leaving.active = False
        await audit.record(
            ctx.session, actor=ctx.actor, action="staff_remove", target=words[0], now=ctx.now
        )
        return [Reply("people.staff.removed", {"name": leaving.name})]
    return [Reply("people.staff.usage")]
