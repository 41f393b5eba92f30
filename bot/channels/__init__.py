"""Channel adapters: each turns platform updates into `Incoming` and outbox rows into calls.

A network channel lives in `bot/channels/<name>.py` and offers
`async def serve(app: App, stop: asyncio.Event) -> None`; the console channel is
interactive and started by `frontdesk chat` (or `frontdesk run` when nothing else is on).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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


async def serve(name: str, app: App, stop: asyncio.Event) -> None:
    """Run one network channel until `stop` is set."""
    try:
        module = importlib.import_module(f"bot.channels.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"bot.channels.{name}":
            raise
        setting = f"FRONTDESK_{SWITCHES[name].upper()}"
        raise ChannelUnavailable(
            f"{setting} is set but the {name} channel is not available in this installation"
        ) from None
    await module.serve(app, stop)
