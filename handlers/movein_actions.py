"""The buttons of a move-in, as typed actions: the desk's ticks and completion, the
repair department's inspection steps, the owner's agreement to the readings and sign-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from handlers.core.actions import Action


@dataclass(frozen=True)
class Tick(Action):
    """The desk records a form signed or an item handed over (`form_service`, …)."""

    name: ClassVar[str] = "mi_tick"
    move_in: int
    item: str


TICKABLE = frozenset(
    {"form_service", "form_renovation", "form_rules"}
    | {"item_handbook", "item_renovation_notes", "item_diagrams"}
)


@dataclass(frozen=True)
class Inspect(Action):
    """The desk sends the inspection to the repair department."""

    name: ClassVar[str] = "mi_inspect"
    move_in: int


@dataclass(frozen=True)
class Inspected(Action):
    """The repair department has gone through every room."""

    name: ClassVar[str] = "mi_inspected"
    move_in: int


@dataclass(frozen=True)
class Reinspected(Action):
    """The repair department re-inspected the reworked defects with the owner."""

    name: ClassVar[str] = "mi_reinspected"
    move_in: int


@dataclass(frozen=True)
class ReadingsOk(Action):
    """The owner agrees the base readings."""

    name: ClassVar[str] = "mi_read_ok"
    private: ClassVar[bool] = True
    move_in: int


@dataclass(frozen=True)
class ReadingsWrong(Action):
    """The owner does not agree the base readings: they are read again."""

    name: ClassVar[str] = "mi_read_no"
    private: ClassVar[bool] = True
    move_in: int


@dataclass(frozen=True)
class SignOff(Action):
    """The owner signs off the move-in in chat."""

    name: ClassVar[str] = "mi_signoff"
    private: ClassVar[bool] = True
    move_in: int


@dataclass(frozen=True)
class Complete(Action):
    """The desk completes the move-in: the unit is handed over."""

    name: ClassVar[str] = "mi_complete"
    move_in: int
