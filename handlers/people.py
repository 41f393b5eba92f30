"""Staff, supervisors and directors: the first ones from settings, the rest added by supervisors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import Context
from handlers.messages import Reply
from storage.models import Community, StaffMember, StaffRole

if TYPE_CHECKING:
    from bot.settings import Settings

CHANNELS = ("console", "telegram", "wechat", "wecom")


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
