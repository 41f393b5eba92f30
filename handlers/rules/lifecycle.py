"""The ticket lifecycle: which action may move a ticket from which status, and where to.

new → accepted → in_progress → done → (resident: fixed) revisit → closed, with the
resident's "not yet" and a bad revisit sending it back to accepted (rework), plus
cancelled (before work starts) and cannot_do. Anything not in the table is refused.
"""

from __future__ import annotations


class S:
    """Ticket statuses (the values of storage.models.TicketStatus)."""

    new, accepted, in_progress, done = "new", "accepted", "in_progress", "done"
    revisit, closed, cancelled, cannot_do = "revisit", "closed", "cancelled", "cannot_do"


# action -> {from status: to status}
TRANSITIONS: dict[str, dict[str, str]] = {
    "accept": {S.new: S.accepted},
    "handover": {S.accepted: S.accepted, S.in_progress: S.in_progress},
    "transfer": {S.new: S.new, S.accepted: S.new},
    "start": {S.accepted: S.in_progress},
    "done": {S.in_progress: S.done},
    "cannot": {S.new: S.cannot_do, S.accepted: S.cannot_do, S.in_progress: S.cannot_do},
    "cancel": {S.new: S.cancelled, S.accepted: S.cancelled},
    "fixed": {S.done: S.revisit},
    "not_fixed": {S.done: S.accepted},
    "revisit_ok": {S.done: S.closed, S.revisit: S.closed},
    "revisit_bad": {S.done: S.accepted, S.revisit: S.accepted},
    "close": {S.done: S.closed, S.revisit: S.closed, S.cannot_do: S.closed},
}

OPEN = frozenset({S.new, S.accepted, S.in_progress})
# Finished work whose revisit may still be due (the resident may have confirmed it).
REVISITABLE = frozenset({S.done, S.revisit})
FINISHED = frozenset({S.closed, S.cancelled, S.cannot_do})
# Actions that send finished work back to be done again; each one counts as a reopen.
REOPENING = frozenset({"not_fixed", "revisit_bad"})


class Forbidden(Exception):
    """The action is not allowed from the ticket's current status."""

    def __init__(self, action: str, status: str) -> None:
        super().__init__(f"{action} not allowed from {status}")
        self.action = action
        self.status = status


def next_status(status: str, action: str) -> str:
    """Where `action` takes a ticket that is now `status`; raises `Forbidden` if nowhere."""
    moves = TRANSITIONS.get(action, {})
    if status not in moves:
        raise Forbidden(action, status)
    return moves[status]


def allowed(status: str, action: str) -> bool:
    return status in TRANSITIONS.get(action, {})
