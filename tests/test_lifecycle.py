"""The whole lifecycle table: every status against every action, allowed or refused."""

from __future__ import annotations

import pytest

from handlers.rules.lifecycle import TRANSITIONS, Forbidden, next_status
from storage.models import TicketStatus

N, A, P, D = "new", "accepted", "in_progress", "done"
R, C, X, K = "revisit", "closed", "cancelled", "cannot_do"

# Expected target for (action, status); absent means refused. Written out by hand from the
# front desk's procedure, so a change to the rules has to change this table too.
EXPECTED = {
    ("accept", N): A,
    ("handover", A): A,
    ("handover", P): P,
    ("transfer", N): N,
    ("transfer", A): N,
    ("start", A): P,
    ("done", P): D,
    ("cannot", N): K,
    ("cannot", A): K,
    ("cannot", P): K,
    ("cancel", N): X,
    ("cancel", A): X,
    ("fixed", D): R,
    ("not_fixed", D): A,
    ("revisit_ok", D): C,
    ("revisit_ok", R): C,
    ("revisit_bad", D): A,
    ("revisit_bad", R): A,
    ("close", D): C,
    ("close", R): C,
    ("close", K): C,
}
ACTIONS = sorted(TRANSITIONS)
STATUSES = [s.value for s in TicketStatus]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("status", STATUSES)
def test_every_status_and_action(status, action):
    expected = EXPECTED.get((action, status))
    if expected is None:
        with pytest.raises(Forbidden):
            next_status(status, action)
    else:
        assert next_status(status, action) == expected


def test_finished_tickets_stay_finished():
    for status in (C, X):
        assert all((action, status) not in EXPECTED for action in ACTIONS)


def test_unknown_action_is_refused():
    with pytest.raises(Forbidden):
        next_status(N, "teleport")


def test_rule_statuses_are_the_stored_ones():
    from handlers.rules.lifecycle import S

    stored = {s.value for s in TicketStatus}
    assert {v for k, v in vars(S).items() if not k.startswith("_")} == stored
