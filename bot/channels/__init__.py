"""Channel adapters: each turns platform updates into `Incoming` and outbox rows into calls.

An adapter translates and does the I/O, nothing else: it hands every message to the
engine, asks `handlers/` or `storage/` what it must know (a user's language, the last
message a chat was shown), says its own few notices through `dialogs.sending.send`, and
never queries the store itself (tests/test_layering.py checks).

A network channel lives in `bot/channels/<name>.py` and offers
`async def serve(app: App, stop: asyncio.Event) -> None`; the console channel is
interactive and started by `frontdesk chat` (or `frontdesk run` when nothing else is on).
"""

from __future__ import annotations

import asyncio
import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp.web import AbstractRouteDef

    from bot.app import App
    from bot.settings import Settings

# The setting that switches each network channel on.
SWITCHES = {
    "telegram": "telegram_token",
    "wechat": "wechat_appid",
    "wecom": "wecom_corp_id",
}


class ChannelUnavailable(Exception):
    """A channel is configured but this installation cannot run it; one line."""


def configured(settings: Settings) -> list[str]:
    """The network channels switched on in the settings, in a fixed order."""
    return [name for name, field in SWITCHES.items() if getattr(settings, field, None)]


def module_of(name: str) -> ModuleType:
    """The module of a configured channel; `ChannelUnavailable` if it is not installed."""
    try:
        return importlib.import_module(f"bot.channels.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"bot.channels.{name}":
            raise
        setting = f"FRONTDESK_{SWITCHES[name].upper()}"
        raise ChannelUnavailable(
            f"{setting} is set but the {name} channel is not available in this installation"
        ) from None


async def serve(name: str, app: App, stop: asyncio.Event) -> None:
    """Run one network channel's own work (polling, delivery) until `stop` is set."""
    await module_of(name).serve(app, stop)


def http_routes(names: list[str], app: App) -> list[AbstractRouteDef]:
    """The HTTP routes of the configured channels that are called over HTTP."""
    found: list[AbstractRouteDef] = []
    for name in names:
        routes = getattr(module_of(name), "routes", None)
        if routes is not None:
            found.extend(routes(app))
    return found
