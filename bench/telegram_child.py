"""Telegram for the inbound benchmark, in a process of its own so it does not share the bot's
CPU: the test emulator, releasing a scripted list of updates and noting when each was released,
when the bot acknowledged it (a getUpdates with a higher offset, which the bot sends only
after the update is stored and handled), and when the resident had the reply: the first
message sent or edited in that chat after the update (each chat's updates answered in
order). Acknowledged minus released is the latency Telegram sees; replied minus released is
the one the resident sees, and the one that matters.

`python -m bench.telegram_child SCRIPT READY OUT RATE [no-replies]`: SCRIPT is a JSON list of
[chat_id, "text" | "press", text or callback data]; the base url is written to READY once the
emulator listens; RATE updates a second are released from the bot's first getUpdates on
(0: all at once, a backlog); OUT gets {"released": [...], "acked": [...], "replied": [...]}
(epoch seconds, in update order) when every update was acknowledged and answered. The
process then serves until stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from tests.telegram_emulator import BotAPIEmulator

TOKEN = "123456:BENCH-TOKEN"


class TimedEmulator(BotAPIEmulator):
    def __init__(self) -> None:
        super().__init__(TOKEN, enforce_limits=False)
        self.polled = asyncio.Event()
        self.released: dict[int, float] = {}
        self.acked: dict[int, float] = {}
        self.replied: dict[int, float] = {}
        self._unacked: deque[int] = deque()
        self._unanswered: dict[int, deque[int]] = {}  # chat → its updates not yet answered

    def release(self, chat_id: int, kind: str, value: str, shown: dict[int, int]) -> None:
        if kind == "text":
            update_id = self.send_text(chat_id, chat_id, value, first_name=f"住户{chat_id}")
        else:
            update_id = self.press(chat_id, chat_id, shown[chat_id], value)
        self.released[update_id] = time.time()
        self._unacked.append(update_id)
        self._unanswered.setdefault(chat_id, deque()).append(update_id)

    async def _dispatch(self, method: str, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        result = await super()._dispatch(method, params, uploads)
        if method in ("sendmessage", "editmessagetext", "sendphoto", "senddocument"):
            waiting = self._unanswered.get(int(params.get("chat_id", 0)))
            if waiting:
                self.replied[waiting.popleft()] = time.time()
        return result

    async def _api_getupdates(self, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        self.polled.set()
        offset = params.get("offset")
        if isinstance(offset, int):
            now = time.time()
            while self._unacked and self._unacked[0] < offset:
                self.acked[self._unacked.popleft()] = now
        return await super()._api_getupdates(params, uploads)


async def main(script_path: str, ready: str, out: str, rate: float, replies: bool) -> None:
    script: list[list[Any]] = json.loads(Path(script_path).read_text())
    emulator = TimedEmulator()
    base_url = await emulator.start()
    # A bot message in each chat for the buttons to be pressed on.
    shown: dict[int, int] = {}
    for chat_id in {int(item[0]) for item in script}:
        emulator._user(chat_id, f"住户{chat_id}", "zh-hans")
        emulator._chat(chat_id, "private")
        shown[chat_id] = emulator._new_message({"chat_id": chat_id}, text="请选择").message_id
    Path(ready).write_text(base_url)
    await emulator.polled.wait()

    started = time.time()
    released = 0
    while released < len(script):
        due = len(script) if rate <= 0 else min(len(script), int((time.time() - started) * rate))
        for chat_id, kind, value in script[released:due]:
            emulator.release(int(chat_id), kind, value, shown)
        released = max(released, due)
        await asyncio.sleep(0.001)
    answered = len(script) if replies else 0
    while len(emulator.acked) < len(script) or len(emulator.replied) < answered:
        await asyncio.sleep(0.01)
    ids = sorted(emulator.released)
    Path(out).write_text(
        json.dumps(
            {
                "released": [emulator.released[i] for i in ids],
                "acked": [emulator.acked[i] for i in ids],
                "replied": [emulator.replied.get(i, emulator.acked[i]) for i in ids],
            }
        )
    )
    # Keep answering (the bot's last getUpdates, its deliveries) until the parent is done.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await emulator.stop()


if __name__ == "__main__":
    replies = len(sys.argv) < 6 or sys.argv[5] != "no-replies"  # the floor answers nothing
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), replies))
