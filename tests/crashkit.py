"""Tools for the crash tests: the real `frontdesk run` in a child process, talking
to the Telegram emulator in this one, killed with SIGKILL and started again.

`GatedEmulator` can hold the bot's sends for a moment before a kill. The one window the
Bot API cannot close (Telegram accepted a message, the process died before `mark_sent`
committed; telegram_send's docstring) would otherwise make "exactly once" a matter of
luck; holding sends, and waiting until every accepted send is marked in the outbox,
puts each kill anywhere else: mid-update, mid-transaction, mid-claim, mid-flow.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from bot.demo import seed_demo
from handlers.people import add_staff
from storage.db import Database
from storage.models import ChatIdentity, Community, Outbox, Person, StaffGroup
from tests.telegram_emulator import _EDITS, _SENDS, ApiError, BotAPIEmulator

TOKEN = "123456:TEST-TOKEN"
REPAIR_GROUP = -1001
WANG = 5101  # repair technician in the repair group
ZHOU = 9001  # supervisor named in the settings
ROOT = Path(__file__).resolve().parent.parent


async def until(probe: Callable[[], Any], what: str, within: float = 30.0) -> Any:
    """Poll `probe` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class GatedEmulator(BotAPIEmulator):
    """The emulator, with a gate in front of every send and edit.

    While the gate is closed sends wait; a send that waited across a kill is refused
    (its caller is gone), so it never lands after its process died.
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(TOKEN, **kw)
        self._open = asyncio.Event()
        self._open.set()
        self.generation = 0
        self.sent: list[tuple[int, int]] = []  # (chat_id, message_id) of accepted sends

    async def _dispatch(self, method: str, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        if method in _SENDS or method in _EDITS:
            born = self.generation
            await self._open.wait()
            if born != self.generation:
                raise ApiError(502, "Bad Gateway: the caller is gone")
        result = await super()._dispatch(method, params, uploads)
        if method in _SENDS:
            self.sent.append((int(result["chat"]["id"]), int(result["message_id"])))
        return result

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self.generation += 1
        self._open.set()

    def getupdates_calls(self) -> int:
        return sum(1 for call in self.history if call.method == "getUpdates")


async def sends_recorded(db: Database, emulator: GatedEmulator) -> None:
    """Wait until every send Telegram accepted is marked sent in the outbox."""

    async def recorded() -> bool:
        async with db.transaction() as s:
            rows = await s.exec(
                select(Outbox.chat_id, Outbox.external_message_id).where(
                    Outbox.channel == "telegram", col(Outbox.sent_at).is_not(None)
                )
            )
            marked = {(int(chat), int(mid)) for chat, mid in rows.all() if mid}
        return set(emulator.sent) <= marked

    await until(recorded, "accepted sends to be marked sent")


async def expire_leases(db: Database) -> None:
    """A dead process's outbox claims, expired now instead of after their 60 s lease.

    Only between a kill and the next start: no living sender holds a claim then.
    """
    async with db.transaction() as s:
        await s.exec(update(Outbox).where(col(Outbox.sent_at).is_(None)).values(claimed_until=None))


async def seed(db: Database, residents: dict[int, str], today: Any, tz: Any) -> None:
    """Demo data; residents (Telegram user id -> name on the roster) bound to their person;
    the repair group of 幸福里 and its technician 王师傅."""
    async with db.transaction() as s:
        await seed_demo(s, today, tz)
        xfl = (await s.exec(select(Community).where(Community.code == "XFL"))).one()
        for user_id, name in residents.items():
            person = (await s.exec(select(Person).where(Person.name == name))).one()
            s.add(
                ChatIdentity(channel="telegram", external_user_id=str(user_id), person_id=person.id)
            )
        s.add(
            StaffGroup(
                community_id=xfl.id,
                department="repair",
                channel="telegram",
                chat_id=str(REPAIR_GROUP),
            )
        )
        await add_staff(
            s,
            channel="telegram",
            user_id=str(WANG),
            name="王师傅",
            department="repair",
            community_id=xfl.id,
        )


# A zygote imports the bot once (aiogram's types take seconds to import on a busy
# machine), then forks a fresh `frontdesk run` for each start. Each line on its stdin is
# a start order (JSON: the child's settings, folder and log file, and the pace of its
# Telegram sends); it answers with the child's pid. Children are reaped by the zygote
# (SIGCHLD ignored). One zygote serves every test of a module.
ZYGOTE = """
import json, os, signal, sys
import bot.cli, bot.channels.telegram, dialogs.registry
from bot.channels import telegram
from bot.channels.telegram_send import Pacer
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
for line in sys.stdin:
    order = json.loads(line)
    pid = os.fork()
    if pid == 0:
        log = os.open(order["log"], os.O_WRONLY | os.O_CREAT, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(order["cwd"])
        os.environ.update(order["env"])
        pace, serve = order["pace"], telegram.serve
        # The channel's own hook for its send budgets (`serve(..., pacer=)`), scaled.
        telegram.serve = lambda app, stop: serve(app, stop, pacer=Pacer(**pace))
        sys.argv = ["frontdesk", "run"]
        try:
            bot.cli.main()
        finally:
            os._exit(0)
    print(pid, flush=True)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Zygote:
    """The process that forks each `frontdesk run` (see ZYGOTE)."""

    def __init__(self, folder: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
        env["PYTHONPATH"] = str(ROOT)
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            cwd=folder,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    async def fork(self, order: dict[str, Any]) -> int:
        """Start a child as `order` says; returns its pid."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(order).encode() + b"\n")
        self.process.stdin.flush()
        return int(await asyncio.to_thread(self.process.stdout.readline))

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


class BotProcess:
    """`frontdesk run` as a child process, polling the emulator; killed and restarted at will.

    Its sends keep Telegram's budgets on a clock five times faster (`PACE`: 0.2 s per
    chat, 20 per 12 s per group, given through the channel's `pacer` hook). At 1 s per
    chat and 20 a minute per group the waiting would set the pace of the whole run (the
    cards and their edits are a few dozen messages to one group), and what is tested
    here is what a kill leaves behind, not the budgets (test_telegram_delivery.py and
    test_overload.py test those). Sends still wait for their slots, so a kill still finds
    rows claimed and waiting.
    """

    PACE = {"per_chat": 0.2, "group_limit": 20, "group_window": 12.0, "overall": 30}

    def __init__(
        self, zygote: Zygote, emulator: GatedEmulator, database_url: str, workdir: Path
    ) -> None:
        self.zygote = zygote
        self.emulator = emulator
        self.workdir = workdir
        self.env = {
            "FRONTDESK_DATABASE_URL": database_url,
            "FRONTDESK_TELEGRAM_TOKEN": TOKEN,
            "FRONTDESK_TELEGRAM_API_URL": emulator.base_url,
            "FRONTDESK_TELEGRAM_SUPERVISORS": str(ZHOU),
            "FRONTDESK_DATA_DIR": str(workdir / "data"),
            # Pushes at any hour the suite happens to run.
            "FRONTDESK_QUIET_HOURS_START": "00:00",
            "FRONTDESK_QUIET_HOURS_END": "00:00",
            "FRONTDESK_LOG_LEVEL": "WARNING",
        }
        self.pid = 0
        self.starts = 0
        self.kills = 0

    async def start(self) -> None:
        """Start the bot and wait until it polls for updates."""
        polled = self.emulator.getupdates_calls()
        self.starts += 1
        log = self.workdir / f"bot-{self.starts}.log"
        order = {"log": str(log), "cwd": str(self.workdir), "env": self.env, "pace": self.PACE}
        self.pid = pid = await self.zygote.fork(order)

        def polling() -> bool:
            if not alive(pid):
                raise AssertionError(f"the bot exited: {self.log_tail()}")
            return self.emulator.getupdates_calls() > polled

        await until(polling, "the bot to poll for updates", 60)

    async def kill(self, db: Database) -> None:
        """SIGKILL, with no accepted send left unrecorded; the dead process's leases expire."""
        self.emulator.hold()
        try:
            await sends_recorded(db, self.emulator)
            os.kill(self.pid, signal.SIGKILL)
            await until(lambda: not alive(self.pid), "the bot to die")
        finally:
            self.emulator.release()
        self.kills += 1
        await expire_leases(db)

    async def stop(self) -> None:
        """SIGTERM: the bot finishes what it is doing and exits."""
        if self.pid and alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            try:
                await until(lambda: not alive(self.pid), "the bot to stop", 20)
            except AssertionError:
                os.kill(self.pid, signal.SIGKILL)

    def log_tail(self) -> str:
        path = self.workdir / f"bot-{self.starts}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""
