"""Sending the survey to the owners, and reminding those whose unit has not answered.

Every owner (`Role.owner`) bound to a unit of the community who has a chat account is
invited once per unit they own (`SurveyInvite`); each of their chats gets the invitation
with a button to answer for that unit. The rows are queued in bulk as announcements are
(`outbox.enqueue_many`): replies to conversations go first, the quiet hours are waited out,
and a dedupe key per invitation and chat keeps a second run from sending anything twice.

Every `survey_remind_days` while the survey is open a job reminds the owners whose unit
has not answered (the slot is recorded on the invitation, and in the dedupe key, so a
slot is never reminded twice) and invites owners bound since the survey was sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import survey
from handlers.core.context import Context
from handlers.core.messages import Choice, Recipient, Reply
from handlers.rules import survey as rules
from handlers.rules.quiet import release_time
from storage import jobs, outbox
from storage.models import Binding, ChatIdentity, Job, Role, Survey, SurveyInvite, Unit
from storage.upsert import insert


@dataclass(frozen=True)
class Owner:
    """An owner of a unit, reachable in chat."""

    unit_id: int
    unit: str
    person_id: int


async def owners(session: AsyncSession, community_id: int) -> list[Owner]:
    """Every owner of a unit of the community with a chat account, by unit."""
    has_chat = exists().where(col(ChatIdentity.person_id) == col(Binding.person_id))
    rows = await session.exec(
        select(Unit.id, Unit.label, Binding.person_id)
        .join(Binding, col(Binding.unit_id) == col(Unit.id))
        .where(Unit.community_id == community_id, Binding.role == Role.owner.value, has_chat)
        .order_by(col(Unit.id), col(Binding.person_id))
    )
    return [Owner(int(u or 0), label, person) for u, label, person in rows.all()]


async def chats_of(session: AsyncSession, people: Sequence[int]) -> dict[int, list[Recipient]]:
    """Each person's chat accounts, in the language they chose."""
    found: dict[int, list[Recipient]] = {}
    if not people:
        return found
    rows = await session.exec(select(ChatIdentity).where(col(ChatIdentity.person_id).in_(people)))
    for identity in rows.all():
        if identity.person_id is not None:
            found.setdefault(identity.person_id, []).append(
                Recipient(identity.channel, identity.external_user_id, identity.locale)
            )
    return found


def answer_choice(invite_id: int) -> Choice:
    """The invitation's button: the answering flow for this unit."""
    return Choice(f"flow:{survey.FLOW}:{invite_id}", "opinion.btn.answer")


def _key(survey_id: int, what: str, chat: Recipient) -> str:
    digest = hashlib.sha1(f"{chat.channel}:{chat.chat_id}".encode()).hexdigest()[:20]
    return f"survey:{survey_id}:{what}:{digest}"


async def _queue(ctx: Context, notices: Sequence[tuple[Reply, Recipient, str]]) -> int:
    """Queue the notices in bulk, after the quiet hours; returns how many rows are new."""
    settings = ctx.settings
    messages = [
        outbox.Message(
            chat.channel,
            chat.chat_id,
            ctx.catalogs.render(reply, chat.locale or settings.default_locale),
            key,
        )
        for reply, chat, key in notices
    ]
    later = release_time(ctx.now, settings.tz, settings.quiet_hours_start, settings.quiet_hours_end)
    return await outbox.enqueue_many(
        ctx.session, messages, now=ctx.now, not_before=later, bulk=True
    )


def _params(found: Survey, unit: str) -> dict[str, Any]:
    return {
        "title": found.title,
        "unit": unit,
        "count": len(found.questions),
        "closes": found.closes_at,
    }


@dataclass(frozen=True)
class Sent:
    invites: int  # new invitations
    queued: int  # rows queued


async def invite_owners(ctx: Context, found: Survey) -> Sent:
    """Invite every owner not invited yet for each unit they own, and queue their notices."""
    assert found.id is not None
    every = await owners(ctx.session, found.community_id)
    made: list[tuple[SurveyInvite, str]] = []
    for owner in every:
        stmt = (
            insert(ctx.session, SurveyInvite)
            .values(
                survey_id=found.id,
                unit_id=owner.unit_id,
                person_id=owner.person_id,
                sent_at=ctx.now,
                reminders=0,
            )
            .on_conflict_do_nothing(index_elements=["survey_id", "unit_id", "person_id"])
            .returning(SurveyInvite)
        )
        invite = (await ctx.session.exec(stmt)).scalar_one_or_none()
        if invite is not None:
            made.append((invite, owner.unit))
    chats = await chats_of(ctx.session, sorted({i.person_id for i, _ in made}))
    notices = [
        (
            Reply("opinion.invite", _params(found, unit), choices=(answer_choice(invite.id or 0),)),
            chat,
            _key(found.id, f"invite:{invite.id}", chat),
        )
        for invite, unit in made
        for chat in chats.get(invite.person_id, [])
    ]
    return Sent(invites=len(made), queued=await _queue(ctx, notices))


async def schedule_reminders(ctx: Context, found: Survey, policy: rules.SurveyPolicy) -> None:
    """The next round of reminders, if it comes before the survey closes."""
    if found.opened_at is None or found.closes_at is None:
        return
    due = rules.next_reminder(found.opened_at, ctx.now, policy)
    if due >= found.closes_at:
        return
    await jobs.schedule(
        ctx.session,
        kind=survey.REMIND_JOB,
        due_at=due,
        payload={"survey": found.id},
        dedupe_key=f"{survey.REMIND_JOB}:{found.id}:{due.isoformat()}",
    )


async def remind(ctx: Context, found: Survey, policy: rules.SurveyPolicy) -> int:
    """Remind each owner whose unit has not answered and whose slot is due; returns how
    many invitations were reminded."""
    assert found.id is not None
    answered = await survey.answered_units(ctx.session, found.id)
    invites = (
        await ctx.session.exec(
            select(SurveyInvite, Unit.label)
            .join(Unit, col(Unit.id) == col(SurveyInvite.unit_id))
            .where(SurveyInvite.survey_id == found.id)
            .order_by(col(SurveyInvite.id))
        )
    ).all()
    due: list[tuple[SurveyInvite, str, int]] = []
    for invite, unit in invites:
        slot = rules.reminder_due(
            invite.sent_at,
            invite.reminders,
            invite.unit_id in answered,
            ctx.now,
            found.closes_at,
            policy,
        )
        if slot is not None:
            due.append((invite, unit, slot))
    chats = await chats_of(ctx.session, sorted({i.person_id for i, _, _ in due}))
    notices = []
    for invite, unit, slot in due:
        invite.reminders, invite.reminded_at = slot, ctx.now
        ctx.session.add(invite)
        reply = Reply(
            "opinion.remind", _params(found, unit), choices=(answer_choice(invite.id or 0),)
        )
        notices += [
            (reply, chat, _key(found.id, f"remind:{invite.id}:{slot}", chat))
            for chat in chats.get(invite.person_id, [])
        ]
    await _queue(ctx, notices)
    return len(due)


async def remind_job(ctx: Context, job: Job) -> list[Reply]:
    """A round of reminders while the survey is open; owners bound since are invited."""
    found = await ctx.session.get(Survey, int(job.payload["survey"]))
    if found is None or found.status != survey.OPEN:
        return []
    policy = await survey.policy_for(ctx.session, ctx.settings, found.community_id)
    await invite_owners(ctx, found)
    await remind(ctx, found, policy)
    await schedule_reminders(ctx, found, policy)
    return []
