"""Staff verbs typed as words: `接单 R-261126-0007`, `完成 R-… 已更换水龙头 金额 80`.

On a channel without buttons (WeCom), and on any other where staff would rather type,
a line names a ticket by its number and says what to do with it. The words are word
lists of the catalogs (`task.words.*`, every language accepted everywhere):

  接单 R-261126-0007 / accept …          the card's "accept"
  开始 R-261126-0007 / start …           "start"
  完成 R-… 已更换水龙头 [金额 80] / done …  "done", with the note (and amount) in the line
  无法处理 R-… 原因 / cannot … reason      "cannot do", with the reason
  转交 R-… 同事姓名 / handover … name      hand to that colleague (no name: choose one)
  <a card's option> R-…                   any other option of the ticket's card
  我的任务 / my tasks                      `/mytasks`

This module reads a line and finds what it names: the ticket of that number the staff
member can see, a colleague by name, an option of the ticket's card by its label; and
says how a card's options are typed, for the lines shown under a card on WeCom. What a
line then does is the card's own use-case (handlers/tasks.py), with its checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.cards import CANNOT_FLOW, DONE_FLOW, Accept, Handover, Start
from handlers.core.actions import PREFIX, split
from handlers.core.context import Context
from handlers.core.i18n import Catalogs
from storage import outbox
from storage.models import ReleaseSlip, StaffMember, Ticket

NUMBER = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]-\d{6}-\d{4,})(?!\d)")
VERBS = {
    "accept": "task.words.accept",
    "start": "task.words.start",
    "done": "task.words.done",
    "cannot": "task.words.cannot",
    "handover": "task.words.handover",
}
PRESS = "press"  # a card's option named by its label
MY_TASKS = "task.words.mytasks"
HELP = "task.words.help"
AMOUNT = "task.words.amount"
# Channels only staff write on (WeCom, the company's own app): a stranger is told so, and
# a line that is no verb gets the verbs' help instead of the residents' menu.
STAFF_ONLY = frozenset({"wecom"})
# How each option of a ticket's card is typed (its action or flow, by name).
TYPED = {
    Accept.name: "task.typed.accept",
    Start.name: "task.typed.start",
    DONE_FLOW: "task.typed.done",
    CANNOT_FLOW: "task.typed.cannot",
    Handover.name: "task.typed.handover",
}
CARDS_LOOKED_AT = 50  # the newest messages showing the ticket's cards


@dataclass(frozen=True)
class TypedLine:
    """A typed action on a ticket: a verb (or a card option's label), the number, the rest."""

    verb: str  # a key of VERBS, or PRESS for a card's option named by its label
    number: str
    rest: str = ""
    label: str = ""


def parse(text: str, words: Callable[[str], set[str]]) -> TypedLine | None:
    """`接单 R-261126-0007` → accept R-261126-0007; None when no words lead to a number."""
    found = NUMBER.search(text)
    if found is None:
        return None
    head = text[: found.start()].strip().rstrip(":：").strip()
    if not head:
        return None
    number, rest = found.group(1).upper(), text[found.end() :].strip()
    low = head.lower()
    for verb, key in VERBS.items():
        if low in words(key):
            return TypedLine(verb, number, rest)
    return TypedLine(PRESS, number, rest, label=head)


def split_amount(rest: str, amount_words: Iterable[str]) -> tuple[str, str | None]:
    """`已更换水龙头 金额 80` → (`已更换水龙头`, `80`); the amount is checked by the caller."""
    names = "|".join(re.escape(w) for w in sorted(amount_words, key=len, reverse=True))
    if not names:
        return rest, None
    spaced = re.compile(rf"(?:^|\s)(?:{names})\s*[:：]?\s*(\S+)\s*$", re.IGNORECASE)
    glued = re.compile(rf"(?:{names})\s*[:：]?\s*([¥￥]?\d+(?:\.\d+)?\s*元?)\s*$", re.IGNORECASE)
    found = spaced.search(rest) or glued.search(rest)
    if found is None:
        return rest, None
    return rest[: found.start()].strip(), found.group(1).strip()


def staff_only(ctx: Context) -> bool:
    """Whether the sender writes on a channel only staff use."""
    return ctx.msg.channel in STAFF_ONLY


def asks_for_my_tasks(ctx: Context, text: str) -> bool:
    return text.strip().lower() in ctx.catalogs.words(MY_TASKS)


def asks_for_help(ctx: Context, text: str) -> bool:
    return text.strip().lower() in ctx.catalogs.words(HELP)


# ---- what a line names ------------------------------------------------------------------


async def visible_ticket(ctx: Context, number: str) -> Ticket | None:
    """The ticket with this number in the sender's communities, their department's first.

    Whether they may act on it is the use-case's to say; a ticket of another community is
    simply not found, so nothing about it is given away.
    """
    communities = {m.community_id for m in ctx.staff if m.active}
    query = select(Ticket).where(Ticket.number == number)
    if None not in communities:
        query = query.where(col(Ticket.community_id).in_(communities))
    found = list((await ctx.session.exec(query.order_by(col(Ticket.id)))).all())
    departments = {m.department for m in ctx.staff}
    found.sort(key=lambda t: t.department not in departments)
    return found[0] if found else None


async def colleague_named(ctx: Context, ticket: Ticket, name: str) -> StaffMember | None:
    """An active colleague of the ticket's department by name (or chat user id); one with
    accounts on several channels is reached on the sender's channel when they have one."""
    wanted = name.strip()
    rows = await ctx.session.exec(
        select(StaffMember).where(
            StaffMember.community_id == ticket.community_id,
            StaffMember.department == ticket.department,
            col(StaffMember.active).is_(True),
            or_(StaffMember.name == wanted, StaffMember.external_user_id == wanted),
        )
    )
    found = sorted(rows.all(), key=lambda m: (m.channel != ctx.msg.channel, m.id or 0))
    return found[0] if found else None


async def card_option(ctx: Context, ticket: Ticket, label: str) -> str | None:
    """The value of the option labelled `label` (in any language) on the latest card shown
    for the ticket (a release slip's cards included); None when no card offers it."""
    slips = await ctx.session.exec(select(ReleaseSlip.id).where(ReleaseSlip.ticket_id == ticket.id))
    prefixes = [f"slip:{slip_id}:" for slip_id in slips.all() if slip_id is not None]
    rows = await outbox.recent_cards(
        ctx.session, [f"ticket:{ticket.id}"], prefixes, limit=CARDS_LOOKED_AT
    )
    wanted = label.strip().lower()
    for row in rows:
        for button in row.payload.get("buttons") or []:
            if str(button.get("label", "")).strip().lower() == wanted:
                return str(button["value"])
    return None


# ---- how a card's options are typed (shown under a card where there are no buttons) ----


async def card_ticket(session: AsyncSession, card: str) -> Ticket | None:
    """The ticket a card shows: `ticket:<id>`, or a release slip's `slip:<id>:<part>`."""
    kind, _, rest = card.partition(":")
    ref = rest.split(":", 1)[0]
    if not ref.isdigit():
        return None
    if kind == "slip":
        slip = await session.get(ReleaseSlip, int(ref))
        return await session.get(Ticket, slip.ticket_id) if slip else None
    return await session.get(Ticket, int(ref)) if kind == "ticket" else None


def typed_option(catalogs: Catalogs, locale: str, button: dict[str, Any], ticket: Ticket) -> str:
    """How a staff member types one option of a ticket's card: `接单 R-261126-0007`."""
    value = str(button.get("value", ""))
    if value.startswith(PREFIX):
        name, argument = split(value)
        ref = argument.split(":", 1)[0]
    else:  # `flow:<name>:<ticket id>`
        _, _, rest = value.partition(":")
        name, _, ref = rest.partition(":")
    key = TYPED.get(name) if ref == str(ticket.id) else None
    if key == TYPED[DONE_FLOW] and ticket.paid:
        key = "task.typed.done_paid"
    params = {"number": ticket.number, "label": button.get("label", "")}
    return catalogs.text(locale, key or "task.typed.press", params)


async def typed_options(
    session: AsyncSession, catalogs: Catalogs, payload: dict[str, Any]
) -> list[str] | None:
    """Each option of a ticket's card as it is typed; None when the message is not a
    ticket's card (its choices are then answered by number)."""
    card = payload.get("card")
    ticket = await card_ticket(session, str(card)) if card else None
    if ticket is None:
        return None
    locale = str(payload.get("locale") or catalogs.default_locale)
    buttons = payload.get("buttons") or []
    return [typed_option(catalogs, locale, button, ticket) for button in buttons]
