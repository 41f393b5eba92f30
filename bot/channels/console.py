"""The console channel: talk to the front desk in a terminal, as a resident or as staff.

A resident's chat is their own user id. A staff member (`--as wang`) also watches the
console group chats of their department, so task cards pushed there are printed and
their buttons can be pressed by number. Piped input is a script: each line is echoed
as `you> …` and every reply printed, which makes whole conversations replayable.

Input lines:
  text            said in the private chat (a number presses a button of the last message)
  > text          said in the staff member's department group chat
  接单 R-…        (staff) a card's option typed as words with the ticket's number, read
                  by the task feature as on every channel (`完成 R-… 已更换水龙头 金额 80`)
  :photo PATH     sends a photo (the path is the file reference)
  :contact PHONE  shares a phone number
  /clock [+2d]    shows the time, or moves it forward and runs what fell due on the way
  :help, :quit

The console's clock is for demos and trials (`frontdesk chat --clock +2d`, `/clock +3h`):
it runs ahead of the real time by an offset kept in the store (`key_value`), so every
later console session, a resident's or a supervisor's, sees the same moved world. It
only moves forward, and not at all while a live channel (Telegram, WeChat, WeCom) is
configured: what falls due would really be sent to residents.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TextIO

from bot import channels
from bot.delivery import SendResult, deliver_pending
from bot.workers import run_once
from handlers import accounts
from handlers.core.clock import OffsetClock, move_forward, parse_shift
from handlers.core.messages import Incoming
from handlers.stats import lateness_text
from storage import keyvalue

if TYPE_CHECKING:
    from bot.app import App
    from bot.settings import Settings
    from storage.models import Outbox

CHANNEL = "console"
INDENT = " " * len("bot> ")
HELP = """\
console commands:
  <text>            say something (a number presses that button of the last message)
  > <text>          say it in your department's group chat (staff)
  接单 R-…          (staff) a card's option typed with the ticket's number, e.g.
                    开始 R-…, 完成 R-… 已更换水龙头 金额 80, 我的任务
  :photo PATH       send a photo
  :contact PHONE    share a phone number
  /clock            the console's time; /clock +3h, /clock +2d move it forward (demos)
  :quit             leave (or Ctrl-D)"""
CLOCK_KEY = "console.clock_offset"  # key_value: seconds the console's clock runs ahead


class ConsoleError(Exception):
    """The console cannot start (e.g. no such staff member); one line."""


# ---- the console's clock ------------------------------------------------------------------


def clock_movable(settings: Settings) -> bool:
    """Only a store without live channels may run ahead of the real time."""
    return not channels.configured(settings)


async def stored_offset(app: App) -> timedelta:
    """How far ahead earlier console sessions moved the clock (zero if never)."""
    async with app.db.transaction() as session:
        value = await keyvalue.read(session, CLOCK_KEY)
    try:
        return timedelta(seconds=float(value)) if value is not None else timedelta()
    except ValueError:
        return timedelta()


async def _store_offset(app: App, offset: timedelta) -> None:
    async with app.db.transaction() as session:
        await keyvalue.write(session, CLOCK_KEY, str(int(offset.total_seconds())))


async def use_stored_clock(app: App) -> None:
    """Run the app's offset clock as far ahead as the console's clock was moved before."""
    if isinstance(app.clock, OffsetClock) and clock_movable(app.settings):
        app.clock.offset = max(app.clock.offset, await stored_offset(app))


async def move_clock(app: App, shift: timedelta) -> int:
    """Move the console's clock forward, running the workers' rounds on the way as they
    would have run (each job when due, in order); keeps the new offset; returns the jobs
    done. The caller checks that the clock may move."""
    clock = app.clock
    assert isinstance(clock, OffsetClock)
    done = 0

    async def tick() -> None:
        nonlocal done
        done += await run_once(app)

    await move_forward(clock, shift, tick)
    await _store_offset(app, clock.offset)
    return done


@dataclass(frozen=True)
class Watched:
    """A chat this session prints: its kind and the label put before its messages."""

    chat_id: str
    kind: str = "private"
    label: str = ""


@dataclass(frozen=True)
class Who:
    """The person at the keyboard and the chats they see."""

    user_id: str
    user_name: str
    private: Watched
    groups: tuple[Watched, ...] = ()
    staff: bool = False
    description: str = ""

    @property
    def watched(self) -> dict[str, Watched]:
        return {w.chat_id: w for w in (self.private, *self.groups)}


@dataclass(frozen=True)
class Printed:
    """A message as shown: where it came from and its buttons (label, value)."""

    chat_id: str
    buttons: tuple[tuple[str, str], ...] = ()


def render(payload: Mapping[str, Any], label: str = "", updated: bool = False) -> str:
    """An outbox payload as plain lines: `bot> text`, continuation lines indented, buttons."""
    head = "bot> " + (f"{label} " if label else "") + ("(updated) " if updated else "")
    text_lines = str(payload.get("text", "")).split("\n")
    lines = [head + text_lines[0], *(INDENT + line for line in text_lines[1:])]
    for name in ("photo", "document"):
        if payload.get(name):
            lines.append(f"{INDENT}({name}: {payload[name]})")
    if payload.get("request_contact"):
        lines.append(f"{INDENT}(:contact <phone> shares your number)")
    buttons = payload.get("buttons") or []
    if buttons:
        lines.append(
            INDENT + "  ".join(f"[{n}] {b['label']}" for n, b in enumerate(buttons, start=1))
        )
    return "\n".join(lines)


class ConsoleSender:
    """Delivers console outbox rows by printing them; remembers what was shown last."""

    channel = CHANNEL

    def __init__(self, watched: Mapping[str, Watched], write: Callable[[str], None]) -> None:
        self.watched = watched
        self.write = write
        self.last: Printed | None = None
        self.last_with_buttons: Printed | None = None
        self._cards: set[tuple[str, str]] = set()

    async def send(self, row: Outbox) -> SendResult:
        watched = self.watched.get(row.chat_id, Watched(row.chat_id, label=f"[{row.chat_id}]"))
        card = row.payload.get("card")
        updated = card is not None and (row.chat_id, card) in self._cards
        if card is not None:
            self._cards.add((row.chat_id, card))
        self.write(render(row.payload, watched.label, updated))
        buttons = tuple(
            (str(b.get("label", "")), str(b.get("value", "")))
            for b in row.payload.get("buttons") or []
        )
        self.last = Printed(row.chat_id, buttons)
        if buttons:
            self.last_with_buttons = self.last
        return SendResult.sent(f"console:{row.id}")


async def resident(app: App, user_id: str) -> Who:
    """A resident typing in their private chat (bound or not)."""
    async with app.db.transaction() as session:
        _, person = await accounts.account(session, CHANNEL, user_id)
    description = f"resident {user_id!r}" + (f" ({person.name})" if person else " (not bound)")
    return Who(user_id, user_id, Watched(user_id), description=description)


async def staff_member(app: App, name: str) -> Who:
    """A console staff member by user id or name, with the group chats they watch."""
    async with app.db.transaction() as session:
        desk = await accounts.staff_desk(session, CHANNEL, name)
    if desk is None:
        raise ConsoleError(
            f"no console staff member {name!r}; add one with "
            "`frontdesk staff add --channel console --user ID --name NAME --role staff`"
        )
    groups, codes = desk.groups, desk.community_codes
    several = len({g.community_id for g in groups}) > 1
    watched: dict[str, Watched] = {}
    for group in groups:
        where = f"{codes.get(group.community_id, '?')} " if several else ""
        label = f"[{where}{group.department} group]"
        watched.setdefault(group.chat_id, Watched(group.chat_id, "group", label))
    members, found = desk.members, desk.member
    user_id = found.external_user_id
    roles = "/".join(sorted({m.role for m in members}))
    departments = ", ".join(sorted({m.department for m in members if m.department})) or "-"
    return Who(
        user_id=user_id,
        user_name=found.name,
        private=Watched(user_id),
        groups=tuple(watched.values()),
        staff=True,
        description=f"{found.name} ({user_id}, {roles}, {departments})",
    )


class ConsoleChat:
    """One terminal session: reads lines, hands them to the engine, prints the outbox."""

    def __init__(
        self,
        app: App,
        who: Who,
        out: TextIO | None = None,
        *,
        run_jobs: bool = True,
        echo: bool = False,
    ) -> None:
        self.app = app
        self.who = who
        self.out = out or sys.stdout
        self.run_jobs = run_jobs
        self.echo = echo
        self.watched = who.watched
        self.sender = ConsoleSender(self.watched, self._write)
        self.locale = app.settings.default_locale  # of the console's own lines (set by `run`)
        self._lock = asyncio.Lock()
        self._prompting = False  # a `you> ` prompt is on screen (interactive only)

    def _write(self, text: str) -> None:
        if self._prompting:
            # A push arrived while the user is typing: clear the prompt line, print,
            # and put the prompt back.
            self.out.write("\r\x1b[K" + text + "\nyou> ")
        else:
            self.out.write(text + "\n")
        self.out.flush()

    async def deliver(self) -> int:
        """Print everything due for the chats this session watches."""
        total = 0
        async with self._lock:
            while True:
                sent = await deliver_pending(
                    self.app.db, self.sender, self.app.clock, chat_ids=list(self.watched)
                )
                if not sent:
                    return total
                total += sent

    async def tick(self) -> None:
        """Due jobs and idle expiry (when no worker runs them), then print what is due."""
        if self.run_jobs:
            await run_once(self.app)
        await self.deliver()

    def incoming(self, line: str) -> Incoming | None:
        """The message a typed line stands for; None for console commands handled here."""
        chat = self.who.private
        fields: dict[str, Any] = {}
        if line.startswith(">"):
            if not self.who.groups:
                self._write("(you have no group chat to write to)")
                return None
            chat, fields["text"] = self.who.groups[0], line[1:].strip()
        elif line.split(" ", 1)[0] in (":photo", ":contact"):
            name, _, value = line[1:].partition(" ")
            if not value.strip():
                self._write(f"(usage: :{name} {'PATH' if name == 'photo' else 'PHONE'})")
                return None
            fields[name] = value.strip()
        elif line == ":help":
            self._write(HELP)
            return None
        elif line.isdigit() and (pressed := self._pressed(int(line))) is not None:
            chat_id, fields["option"] = pressed
            chat = self.watched.get(chat_id, chat)
        else:
            fields["text"] = line
        return Incoming(
            channel=CHANNEL,
            chat_id=chat.chat_id,
            user_id=self.who.user_id,
            at=self.app.clock.now(),
            message_id=f"console:{uuid.uuid4().hex}",
            chat_kind=chat.kind,
            user_name=self.who.user_name,
            **fields,
        )

    def _pressed(self, number: int) -> tuple[str, str] | None:
        """(chat id, button value) for a typed number, or None to send it as text.

        Staff press a button of the latest message that had buttons, in whichever chat.
        A resident's number is a button only when the very last message had buttons;
        otherwise the engine reads it (it resolves numbers against the current step).
        """
        shown = self.sender.last_with_buttons if self.who.staff else self.sender.last
        if shown is None or not 1 <= number <= len(shown.buttons):
            return None
        return shown.chat_id, shown.buttons[number - 1][1]

    async def handle_line(self, line: str) -> None:
        if line == "/clock" or line.startswith("/clock "):
            await self.clock_command(line.removeprefix("/clock").strip())
        else:
            msg = self.incoming(line)
            if msg is not None:
                await self.app.engine.handle(msg)
        await self.tick()

    async def clock_command(self, argument: str) -> None:
        """`/clock` shows the console's time; `/clock +2d` moves it forward first, running
        the revisits, escalations and reminders that fall due on the way (printed next)."""
        clock = self.app.clock
        if not argument:
            ahead = clock.offset if isinstance(clock, OffsetClock) else timedelta()
            self._say("clock.now.ahead" if ahead else "clock.now", ahead=ahead)
            return
        shift = parse_shift(argument)
        if shift is None:
            self._say("clock.usage")
            return
        if not isinstance(clock, OffsetClock) or not clock_movable(self.app.settings):
            self._say("clock.live" if channels.configured(self.app.settings) else "clock.fixed")
            return
        async with self._lock:  # the interactive poller waits until the clock has moved
            done = await move_clock(self.app, shift)
        self._say("clock.moved", shift=shift, jobs=done)

    def _say(self, key: str, **params: Any) -> None:
        """A line of the console's own, in the user's language (the catalogs' `clock.*`)."""
        values: dict[str, Any] = {"now": self.app.clock.now()}
        for name, value in params.items():
            span = isinstance(value, timedelta)
            values[name] = lateness_text(value.total_seconds()) if span else value
        self._write(self.app.catalogs.text(self.locale, key, values))

    async def run(self, lines: LineSource, interactive: bool = False) -> None:
        """Until end of input: read a line, handle it, print the replies."""
        self.locale = await self._locale()
        if interactive:
            self._write(f"Front Desk console: {self.who.description}. :help for help, Ctrl-D ends.")
        clock = self.app.clock
        if isinstance(clock, OffsetClock) and clock.offset:
            self._say("clock.now.ahead", ahead=clock.offset)  # not the real time: say so
        await self.tick()
        poller = asyncio.create_task(self._poll()) if interactive else None
        try:
            while True:
                self._prompting = interactive
                line = await lines.next()
                self._prompting = False
                if line is None:
                    break
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line in (":quit", ":q", ":exit"):
                    break
                if self.echo:
                    self._write(f"you> {line}")
                await self.handle_line(line)
        finally:
            self._prompting = False
            if poller is not None:
                poller.cancel()
        if interactive:
            self.out.write("\n")
            self.out.flush()

    async def _locale(self) -> str:
        async with self.app.db.transaction() as session:
            chosen = await accounts.chosen_locale(session, CHANNEL, self.who.user_id)
        return chosen or self.app.settings.default_locale

    async def _poll(self, interval: float = 1.0) -> None:
        """Interactive only: show pushes from other sessions and the workers as they come."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tick()
            except Exception as exc:  # keep the chat alive; say what went wrong once per round
                self._write(f"(could not read the outbox: {type(exc).__name__}: {exc})")


class LineSource:
    """Lines from a text stream, read on a daemon thread so the event loop never blocks.

    The next line is read only when asked for, so an interactive prompt comes after the
    previous replies, not before them.
    """

    def __init__(self, stream: TextIO, prompt: str | None = None) -> None:
        self.stream = stream
        self.prompt = prompt
        self._wanted = threading.Event()
        self._queue: asyncio.Queue[str | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _read(self) -> None:
        assert self._loop is not None and self._queue is not None
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                line: str | None
                if self.prompt is not None:
                    line = input(self.prompt)
                else:
                    line = self.stream.readline() or None
            except (EOFError, OSError, ValueError):
                line = None
            self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
            if line is None:
                return

    async def next(self) -> str | None:
        """The next line without its newline; None at end of input."""
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._queue = asyncio.Queue()
            self._thread = threading.Thread(target=self._read, name="console-input", daemon=True)
            self._thread.start()
        assert self._queue is not None
        if not self._thread.is_alive() and self._queue.empty():
            return None
        self._wanted.set()
        line = await self._queue.get()
        return None if line is None else line.rstrip("\n")


async def chat(
    app: App,
    *,
    user: str = "resident",
    staff: str | None = None,
    run_jobs: bool = True,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    shift: timedelta | None = None,
) -> None:
    """`frontdesk chat`: a resident (`user`) or a staff member (`staff`) in this terminal;
    `shift` moves the console's clock forward first (`--clock +2d`)."""
    stdin = stdin or sys.stdin
    who = await staff_member(app, staff) if staff else await resident(app, user)
    if shift:
        if not isinstance(app.clock, OffsetClock) or not clock_movable(app.settings):
            live = ", ".join(channels.configured(app.settings)) or "none"
            raise ConsoleError(f"--clock: the clock cannot be moved here (live channels: {live})")
        await move_clock(app, shift)
    interactive = stdin.isatty()
    console = ConsoleChat(app, who, stdout, run_jobs=run_jobs, echo=not interactive)
    source = LineSource(stdin, prompt="you> " if interactive else None)
    await console.run(source, interactive=interactive)
