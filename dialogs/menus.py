"""Command lists and staff help, derived from the features' declarations.

A platform that lists commands beside the text box (Telegram's menu) shows one list per
kind of chat, worked out here from `dialogs/registry.py` rather than kept by hand:

- residents' private chats: `/start`, the flows of the residents' menu (in the registry's
  order), the commands open to everybody, then `/lang`, `/help`, `/human`;
- group chats: the staff commands that answer in a group (the engine's rule: they have
  roles and are not private-only), then `/help`;
- a supervisor's or director's private chat: every command their roles allow, then
  `/lang` and `/help`. A name that is also a resident's flow (`/bind`) is left out
  there: in a manager's private chat it is neither the flow nor of use.

Each entry is described by the catalog key `command.<name>` (`command.<name>.group` in a
group, where the same command means something else); a flow without one by its title.
A command the catalogs do not describe is for typing only (`/whoami`) and stays out of
the lists. Staff help (`staff_help`) is the help lines the features declare per role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dialogs import registry
from handlers.core.i18n import Catalogs
from handlers.core.roles import MANAGERS

PREFIX = "command."
GROUP = ".group"
# The engine's own words, listed first and last (dialogs/engine.py CONTROLS).
FIRST, LAST, LAST_STAFF = ("start",), ("lang", "help", "human"), ("lang", "help")


@dataclass(frozen=True)
class Listed:
    """One line of a command list: what is typed after the slash, and its description."""

    command: str
    describe: str  # a catalog key


def _described(catalogs: Catalogs, key: str) -> bool:
    return catalogs.has(catalogs.default_locale, key)


def _listed(catalogs: Catalogs, names: Iterable[str], group: bool = False) -> list[Listed]:
    found: dict[str, Listed] = {}
    for name in names:
        keys = [f"{PREFIX}{name}{GROUP}"] if group else []
        keys.append(f"{PREFIX}{name}")
        key = next((k for k in keys if _described(catalogs, k)), None)
        if key is not None and name not in found:
            found[name] = Listed(name, key)
    return list(found.values())


def for_residents(catalogs: Catalogs) -> list[Listed]:
    """Residents' private chats (and everybody's, by default)."""
    flows = [f for f in registry.all_flows() if f.in_menu]
    listed = _listed(catalogs, FIRST)
    for flow in flows:
        own = _listed(catalogs, [flow.name])
        listed += own or [Listed(flow.name, flow.title)]
    listed += _listed(catalogs, [c.name for c in registry.all_commands() if not c.roles])
    return listed + _listed(catalogs, LAST)


def for_groups(catalogs: Catalogs) -> list[Listed]:
    """Group chats: what staff may do there."""
    names = [c.name for c in registry.all_commands() if c.roles and not c.private_only]
    return _listed(catalogs, [*names, "help"], group=True)


def for_managers(catalogs: Catalogs) -> list[Listed]:
    """A supervisor's or director's private chat."""
    flows = {f.name for f in registry.all_flows()}
    names = [
        c.name
        for c in registry.all_commands()
        if set(c.roles) & set(MANAGERS) and c.name not in flows
    ]
    return _listed(catalogs, [*names, *LAST_STAFF])


def all_listed(catalogs: Catalogs) -> list[Listed]:
    """Every entry of every list (to check the catalogs describe each in every language)."""
    return [*for_residents(catalogs), *for_groups(catalogs), *for_managers(catalogs)]


def staff_help(roles: Iterable[str]) -> list[str]:
    """The help lines (catalog keys) the features offer staff of these roles, in order."""
    held = set(roles)
    return [e.help for e in registry.staff_entries() if e.help and held & set(e.roles)]
