"""Button actions as typed values, packed into a button's value and unpacked in one place.

A choice that does something (accept a ticket, hand it to a colleague, open one's own
ticket) carries an `Action`: a frozen dataclass whose class names the action and whose
fields are its arguments. `value()` packs it as `act:<name>:<field>:<field>`; the engine
unpacks it with the class registered for that name, so a handler receives the typed
object, never a string to split, and a forged or stale value is refused before any
handler runs. Channels only carry the packed value.

The prefix scheme of a choice's value: `act:` an action, `flow:<name>[:<argument>]` a
flow to start, `cmd:<name> <argument>` a command, `ctl:<name>` a control (back, cancel),
`=…` an answer of the current step.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Self

from handlers.core.ids import row_id
from handlers.core.messages import Choice

PREFIX = "act:"


@dataclasses.dataclass(frozen=True)
class Action:
    """A button's action. Subclasses set `name` and declare their fields (ints or words)."""

    name: ClassVar[str]
    # On a resident's own business: never answered in a group chat, where all can read.
    private: ClassVar[bool] = False

    def value(self) -> str:
        parts = [str(getattr(self, f.name)) for f in dataclasses.fields(self)]
        return ":".join([PREFIX + self.name, *parts])

    def choice(self, key: str, **params: Any) -> Choice:
        """The action as a button with the catalog key of its label."""
        return Choice(self.value(), key, params)

    @classmethod
    def unpack(cls, argument: str) -> Self | None:
        """The action from the part of a value after its name; None if malformed."""
        parts = argument.split(":") if argument else []
        fields = dataclasses.fields(cls)
        if len(parts) != len(fields):
            return None
        values: list[Any] = []
        for field, raw in zip(fields, parts, strict=True):
            if field.type in ("int", int):
                number = row_id(raw)
                if number is None:
                    return None
                values.append(number)
            elif raw and len(raw) <= 64:
                values.append(raw)
            else:
                return None
        return cls(*values)


def split(value: str) -> tuple[str, str]:
    """`act:t_handto:12:34` → (`t_handto`, `12:34`)."""
    name, _, argument = value[len(PREFIX) :].partition(":")
    return name, argument


@dataclasses.dataclass(frozen=True)
class OnTicket(Action):
    """An action on one ticket (the common case)."""

    ticket: int
