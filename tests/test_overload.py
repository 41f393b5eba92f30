"""Overload: 2,000 residents write at once while Telegram answers 429 to one call in ten.

The bot runs as `frontdesk run` does (long polling, the paced delivery loop) against the
local Bot API emulator, which enforces Telegram's flood limits *and* refuses a random
tenth of getUpdates and send calls with "retry after 1". What must hold: every message
is stored and handled once, every resident gets exactly the answer a resident gets on a
quiet day, in order; the bot itself never trips a flood limit; the backlog drains at
close to the 30 messages/s Telegram allows; memory does not grow with the backlog.

It takes two to three minutes: 3,000 answers at under 30 a second.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from storage.models import InboundUpdate, Outbox
from tests.telegram_emulator import BotAPIEmulator
from tests.test_telegram import TOKEN, Scene, running, texts, until

RESIDENTS = 2_000
FIRST_USER = 700_000
SAYS = ("/start", "物业费怎么交")  # a greeting and a question, half each
FLAKY_SHARE = 0.10


def rss_mb() -> float:
    """This process's resident set size, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    emulator = BotAPIEmulator(TOKEN, enforce_limits=True)
    await emulator.start()
    try:
        async for ready in running(tmp_path, emulator, webhook=False):
            yield ready
    finally:
        await emulator.stop()


def busiest_second(times: list[float]) -> int:
    """The most sends accepted within any one second."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1:
            start += 1
        most = max(most, end - start + 1)
    return most


async def count(scene: Scene, model: type, *where: object) -> int:
    async with scene.app.db.transaction() as s:
        result = await s.exec(select(func.count()).select_from(model).where(*where))  # type: ignore[arg-type]
        return int(result.one())


async def test_2000_residents_at_once_while_telegram_refuses_often(scene: Scene) -> None:
    emulator = scene.emulator
    # On a quiet day: what one resident gets for each message.
    expected: dict[str, list[str]] = {}
    for n, said in enumerate(SAYS):
        shown = await scene.person(FIRST_USER - 1 - n).say(said)
        assert shown, f"no answer to {said!r}"
        expected[said] = [m.text or "" for m in shown]
    assert "您好" in texts([m for m in emulator.messages(FIRST_USER - 1)])

    baseline = rss_mb()
    peak = [baseline]
    handled_all: list[float] = []
    emulator.flaky({"getUpdates", "sendMessage", "editMessageText"}, FLAKY_SHARE)
    started = time.monotonic()
    residents = range(FIRST_USER, FIRST_USER + RESIDENTS)
    for user in residents:
        emulator.send_text(user, user, SAYS[user % 2], first_name=f"住户{user}")

    async def all_answered() -> bool:
        peak[0] = max(peak[0], rss_mb())
        handled = await count(scene, InboundUpdate, col(InboundUpdate.handled_at).is_not(None))
        if handled == RESIDENTS + len(SAYS) and not handled_all:
            handled_all.append(time.monotonic() - started)
        waiting = await count(
            scene, Outbox, col(Outbox.sent_at).is_(None), col(Outbox.failed_at).is_(None)
        )
        return handled == RESIDENTS + len(SAYS) and waiting == 0

    await until(all_answered, "the backlog to drain", within=600)
    elapsed = time.monotonic() - started

    # Nothing lost, nothing doubled: each resident got exactly the quiet-day answer.
    wrong = [
        user
        for user in residents
        if [m.text for m in emulator.messages(user)] != expected[SAYS[user % 2]]
    ]
    assert wrong == [], [
        (user, [m.text for m in emulator.messages(user)], expected[SAYS[user % 2]])
        for user in wrong[:3]
    ]
    assert await count(scene, InboundUpdate) == RESIDENTS + len(SAYS)
    assert await count(scene, Outbox, col(Outbox.failed_at).is_not(None)) == 0

    # Telegram refused often, and the bot still never broke a limit itself.
    sends = [c for c in emulator.history if c.ok and c.method in ("sendMessage",)]
    assert emulator.injected_429 >= 150
    assert emulator.too_many == 0, emulator.broken[:10]
    per_second = busiest_second([c.at for c in sends])
    assert per_second <= 30
    answers = sum(len(expected[SAYS[user % 2]]) for user in residents)
    rate = answers / elapsed
    print(
        f"\noverload: {RESIDENTS} residents, all handled in {handled_all[0]:.1f} s, "
        f"{answers} answers in {elapsed:.1f} s ({rate:.1f}/s), "
        f"{emulator.injected_429} injected 429s, {emulator.too_many} limit 429s, "
        f"busiest second {per_second}, RSS {baseline:.0f} → peak {peak[0]:.0f} MB"
    )
    # Drained steadily, refusals and all (15–17/s measured here while the same process
    # also handles the 2,000 updates; the floor leaves room for a slower machine).
    assert rate >= 10, f"{rate:.1f} answers/s"

    # The backlog lives in the database, not in memory.
    grown = peak[0] - baseline
    assert grown < 100, f"resident memory grew by {grown:.0f} MB"
