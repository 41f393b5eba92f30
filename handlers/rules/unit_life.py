"""A unit's life: which stage may follow which.

Not handed over → handing over (the move-in is opened) → handed over (it is completed;
this sets the handover date). After that a unit is renovated, lived in, or looked after
empty (custody), in any order; custody ends back where the unit was before it.
A cancelled move-in goes back to not handed over.
"""

from __future__ import annotations

# The values of storage.models.UnitStage.
NOT_HANDED_OVER, HANDING_OVER, HANDED_OVER = "not_handed_over", "handing_over", "handed_over"
RENOVATING, OCCUPIED, CUSTODY = "renovating", "occupied", "custody"

_AFTER_HANDOVER = frozenset({HANDED_OVER, RENOVATING, OCCUPIED, CUSTODY})

NEXT: dict[str, frozenset[str]] = {
    NOT_HANDED_OVER: frozenset({HANDING_OVER}),
    HANDING_OVER: frozenset({HANDED_OVER, NOT_HANDED_OVER}),
    HANDED_OVER: _AFTER_HANDOVER - {HANDED_OVER},
    RENOVATING: _AFTER_HANDOVER - {RENOVATING},
    OCCUPIED: _AFTER_HANDOVER - {OCCUPIED},
    CUSTODY: _AFTER_HANDOVER - {CUSTODY},
}


def may_move(current: str, to: str) -> bool:
    """Whether a unit at `current` may move to `to` (unknown stages never may)."""
    return to in NEXT.get(current, frozenset())


def is_handed_over(stage: str) -> bool:
    """Keys given, warranty running: every stage after the handover."""
    return stage in _AFTER_HANDOVER
