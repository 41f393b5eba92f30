"""Announcements (通知): `/announce` → the community (when the sender has several) → the
words → the whole community or one building → a preview with how many residents get it
→ confirm. Only supervisors, directors and the service desk, in a private chat."""

from __future__ import annotations

from typing import Any

from dialogs.engine import StaffEntry
from dialogs.feature import Feature
from dialogs.flow import Answer, Answers, Flow, InputError, Step, bounded_text
from handlers import announce
from handlers.core.context import Context
from handlers.core.ids import row_id
from handlers.core.messages import Choice
from handlers.core.roles import MANAGERS, STAFF_ROLES
from storage.models import Building


def community(answer: Answer, ctx: Context, answers: Answers) -> int:
    """A community the sender may announce to (the choices are only those)."""
    chosen = row_id((answer.option or "").removeprefix("community:"))
    if chosen is None or not announce.may_announce(ctx, chosen):
        raise InputError("dialog.error.choose")
    return chosen


def words(answer: Answer, ctx: Context, answers: Answers) -> str:
    return bounded_text(answer, announce.TEXT_LIMIT, minimum=2)


async def scope(answer: Answer, ctx: Context, answers: Answers) -> Any:
    """The whole community, or one of its buildings; somewhere residents are bound."""
    value = (answer.option or "").removeprefix("scope:")
    building_id = None if value == announce.WHOLE else row_id(value)
    if building_id is not None:
        building = await ctx.session.get(Building, building_id)
        if building is None or building.community_id != answers["community"]:
            raise InputError("dialog.error.choose")
    elif value != announce.WHOLE:
        raise InputError("dialog.error.choose")
    reached = await announce.audience(ctx.session, answers["community"], building_id)
    if reached.chats == 0:
        raise InputError("announce.error.nobody")
    return announce.WHOLE if building_id is None else building_id


ANNOUNCE = Flow(
    name="announce",
    title="announce.title",
    steps=(
        Step(
            "community",
            "announce.community.prompt",
            parse=community,
            choices=announce.community_choices,
        ),
        Step("text", "announce.text.prompt", parse=words),
        Step("scope", "announce.scope.prompt", parse=scope, choices=announce.scope_choices),
    ),
    summary="announce.summary",
    summarize=announce.summarize,
    finish=announce.submit,
    start=announce.begin,
    in_menu=False,
)

# Supervisors, directors and the service desk may announce; the flow checks who exactly.

FEATURE = Feature(
    name="announce",
    flows=[ANNOUNCE],
    for_staff=[
        StaffEntry(STAFF_ROLES, "announce.help"),
        StaffEntry(MANAGERS, menu=Choice("flow:announce", "announce.menu")),
    ],
)
