"""Announcements (通知): the property office tells residents about a water or power cut, a
disinfection round … in the whole community or one building.

Supervisors, directors and the service desk send one from a private chat (`/announce`),
or the office from the command line (`frontdesk announce`). Every chat a bound resident of
that community (or building) has, on any channel, gets it once — however many units the
resident has there. The rows are bulk, so replies to conversations go out before them;
each carries a dedupe key of the announcement and the chat, so queuing the same
announcement again adds nothing. An announcement is not urgent: it waits out the quiet hours.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import distinct, func
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply, Text
from handlers.rules.quiet import release_time
from handlers.staffauth import acting_member
from storage import audit, outbox
from storage.models import Binding, Building, ChatIdentity, Community, Department, Unit

if TYPE_CHECKING:
    from bot.settings import Settings
    from handlers.core.i18n import Catalogs

WHOLE = "all"  # the scope of an announcement to the whole community
TEXT_LIMIT = 1000  # characters the office may write; the notice adds a heading


@dataclass(frozen=True)
class Audience:
    """Who an announcement reaches: how many residents, through how many chats."""

    residents: int
    chats: int


@dataclass(frozen=True)
class Announced:
    """An announcement queued: its audience, the rows new in the outbox, when it goes out."""

    audience: Audience
    queued: int
    not_before: datetime | None  # None: at once; else the end of the quiet hours


# ---- who may announce, to whom ----------------------------------------------------------


def may_announce(ctx: Context, community_id: int) -> bool:
    """Supervisors and directors of the community (or company-wide), and its service desk."""
    return acting_member(ctx, community_id, Department.service) is not None


async def communities_for(ctx: Context) -> list[Community]:
    """The communities the sender may announce to, by code."""
    found = (await ctx.session.exec(select(Community).order_by(col(Community.code)))).all()
    return [c for c in found if c.id is not None and may_announce(ctx, c.id)]


def _natural(name: str) -> tuple[Any, ...]:
    """`2栋` before `10栋`: digits compare as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


async def buildings_of(session: AsyncSession, community_id: int) -> list[Building]:
    found = await session.exec(select(Building).where(Building.community_id == community_id))
    return sorted(found.all(), key=lambda b: _natural(b.name))


def _reached(community_id: int, building_id: int | None) -> Any:
    """Chat identities of people bound to a unit of the community (or building)."""
    stmt = (
        select_columns(
            col(ChatIdentity.id),
            col(ChatIdentity.channel),
            col(ChatIdentity.external_user_id),
            col(ChatIdentity.locale),
            col(ChatIdentity.person_id),
        )
        .join(Binding, col(Binding.person_id) == col(ChatIdentity.person_id))
        .join(Unit, col(Unit.id) == col(Binding.unit_id))
        .where(col(Unit.community_id) == community_id)
    )
    if building_id is not None:
        stmt = stmt.where(col(Unit.building_id) == building_id)
    return stmt


async def audience(session: AsyncSession, community_id: int, building_id: int | None) -> Audience:
    """How many residents, and chats of theirs, an announcement would reach."""
    reached = _reached(community_id, building_id).subquery()
    stmt = select(func.count(distinct(reached.c.person_id)), func.count(distinct(reached.c.id)))
    residents, chats = (await session.exec(stmt)).one()
    return Audience(residents=int(residents), chats=int(chats))


async def recipients(
    session: AsyncSession, community_id: int, building_id: int | None
) -> list[tuple[Recipient, int]]:
    """Each chat the announcement goes to, once, with the person it belongs to."""
    stmt = _reached(community_id, building_id).distinct().order_by(col(ChatIdentity.id))
    connection = await session.connection()  # plain rows: thousands of them
    return [
        (Recipient(channel, chat_id, locale), person_id)
        for _, channel, chat_id, locale, person_id in (await connection.execute(stmt)).all()
    ]


# ---- the use-case ---------------------------------------------------------------------


def new_ref() -> str:
    """The announcement's own id, made when it is begun; its dedupe keys carry it."""
    return uuid.uuid4().hex[:12]


def dedupe_key(ref: str, chat: Recipient) -> str:
    """One row per announcement and chat, at any length of chat id (the column has 120)."""
    digest = hashlib.sha1(f"{chat.channel}:{chat.chat_id}".encode()).hexdigest()[:20]
    return f"announce:{ref}:{digest}"


async def announce(
    session: AsyncSession,
    *,
    catalogs: Catalogs,
    settings: Settings,
    community: Community,
    building: Building | None,
    text: str,
    ref: str,
    actor: str,
    now: datetime,
) -> Announced:
    """Queue the announcement to every resident chat of the scope and audit it."""
    assert community.id is not None
    building_id = building.id if building is not None else None
    chats = await recipients(session, community.id, building_id)
    later = release_time(now, settings.tz, settings.quiet_hours_start, settings.quiet_hours_end)
    notice = Reply(
        "announce.notice",
        {"community": community.name, "company": settings.company_name, "text": text},
    )
    payloads: dict[str, dict[str, Any]] = {}  # one rendering per language, not per chat
    messages = []
    for chat, _ in chats:
        locale = chat.locale or settings.default_locale
        if locale not in payloads:
            payloads[locale] = catalogs.render(notice, locale)
        messages.append(
            outbox.Message(chat.channel, chat.chat_id, payloads[locale], dedupe_key(ref, chat))
        )
    queued = await outbox.enqueue_many(session, messages, now=now, not_before=later, bulk=True)
    reached = Audience(residents=len({person for _, person in chats}), chats=len(chats))
    await audit.record(
        session,
        actor=actor,
        action="announce",
        target=community.code if building is None else f"{community.code}/{building.name}",
        detail={
            "ref": ref,
            "community": community.code,
            "building": building.name if building is not None else None,
            "residents": reached.residents,
            "chats": reached.chats,
            "queued": queued,
            "text": text,
        },
        now=now,
    )
    return Announced(audience=reached, queued=queued, not_before=later)


# ---- the conversation's callbacks ---------------------------------------------------------


async def begin(ctx: Context, initial: str | None) -> dict[str, Any] | list[Reply]:
    """`/announce`: for whom may announce, in a private chat; one community is taken as read."""
    communities = await communities_for(ctx)
    if not communities:
        return [Reply("dialog.not_allowed")]
    if ctx.msg.chat_kind != "private":
        return [Reply("dialog.private_only")]
    answers: dict[str, Any] = {"_ref": new_ref()}
    if len(communities) == 1:
        answers["community"] = communities[0].id
    return answers


async def community_choices(ctx: Context, answers: Mapping[str, Any]) -> Sequence[Choice]:
    return [
        Choice(f"community:{c.id}", "announce.community.option", {"name": c.name, "code": c.code})
        for c in await communities_for(ctx)
    ]


async def scope_choices(ctx: Context, answers: Mapping[str, Any]) -> Sequence[Choice]:
    community = await ctx.session.get(Community, answers["community"])
    assert community is not None and community.id is not None
    whole = Choice(f"scope:{WHOLE}", "announce.scope.all", {"community": community.name})
    return [whole] + [
        Choice(f"scope:{b.id}", "announce.scope.building", {"building": b.name})
        for b in await buildings_of(ctx.session, community.id)
    ]


async def scope_of(
    session: AsyncSession, answers: Mapping[str, Any]
) -> tuple[Community, Building | None]:
    """The community and building (None: all of it) the answers name."""
    community = await session.get(Community, answers["community"])
    assert community is not None
    scope = answers["scope"]
    building = None if scope == WHOLE else await session.get(Building, scope)
    return community, building


def scope_text(community: Community, building: Building | None) -> Text:
    if building is None:
        return Text("announce.scope.all", {"community": community.name})
    return Text("announce.scope.building", {"building": building.name})


def when_text(ctx: Context) -> Any:
    """Empty, or when the quiet hours end and the announcement goes out."""
    settings = ctx.settings
    later = release_time(ctx.now, settings.tz, settings.quiet_hours_start, settings.quiet_hours_end)
    return "" if later is None else Text("announce.quiet", {"at": later})


async def summarize(ctx: Context, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The preview: the words, to whom, how many residents will get it, and when."""
    community, building = await scope_of(ctx.session, answers)
    assert community.id is not None
    reached = await audience(ctx.session, community.id, building.id if building else None)
    return {
        "text": answers["text"],
        "scope": scope_text(community, building),
        "residents": reached.residents,
        "chats": reached.chats,
        "when": when_text(ctx),
    }


async def submit(ctx: Context, answers: dict[str, Any]) -> list[Reply]:
    """Confirmed: queue it (authority checked again) and say for how many residents."""
    community, building = await scope_of(ctx.session, answers)
    if community.id is None or not may_announce(ctx, community.id):
        return [Reply("dialog.not_allowed")]
    done = await announce(
        ctx.session,
        catalogs=ctx.catalogs,
        settings=ctx.settings,
        community=community,
        building=building,
        text=answers["text"],
        ref=answers["_ref"],
        actor=ctx.actor,
        now=ctx.now,
    )
    return [
        Reply(
            "announce.queued",
            {
                "residents": done.audience.residents,
                "chats": done.audience.chats,
                "scope": scope_text(community, building),
                "when": when_text(ctx),
            },
        )
    ]
