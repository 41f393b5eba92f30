"""Memory: the resident set size of `frontdesk run` itself with 100,000 conversations in progress.

The measured process is the product as an office runs it: the `frontdesk` console script
with the Telegram channel on, long-polling a Bot API emulator on 127.0.0.1 (in this
process, with Telegram's flood limits), its HTTP listener scraped for `/metrics` along the
way, the delivery loop and the workers running. Its RSS is read from outside, in
/proc/PID/status: VmRSS, and VmHWM for the peak.

The store: 100,000 residents bound to their flats, each with a Telegram identity, by bulk
insert; then each of them in a conversation waiting at a flow's first question. The engine
starts a repair and a complaint for two residents each, here; their `dialog_state` rows, as
the engine wrote them, are copied for every other resident (7 in 10 a repair, the rest a
complaint).

Then real traffic, in waves released at once through the emulator: residents spread over
all of them answer (a typed number picks their flat, a complaint is told in words). The bot
handles updates faster than Telegram lets its replies out (30 a second), so the replies
queue in the outbox; a wave ends when every update is handled and every reply delivered.
Waves 1 to 3: three sets of residents answer the first question, a set a wave (waves 2
and 3 against wave 1: what a conversation that starts answering costs, after warm-up);
wave 4: the first set answers the next two questions at once, so each chat's second reply
also waits for its one-a-second slot. At the end every conversation must stand exactly
where its answers put it: the copied conversations are ones the engine carries on.

Before all that the same command runs once on the roster alone, no conversation (not with
`--quick`): the difference of the two baselines is what the stored conversations cost at
rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout
from sqlalchemy import Table, insert

from bench.common import Section, free_port
from storage.db import Database
from storage.migrate import upgrade
from storage.models import (
    Binding,
    Building,
    ChatIdentity,
    Community,
    DialogState,
    Person,
    SQLModel,
    Unit,
)
from tests.telegram_emulator import BotAPIEmulator

TARGET_MB = 150.0
TOKEN = "123456:MEMORY-BENCH"
PER_COMMUNITY = 5_000
CHUNK = 20_000
# What a resident types at each question: a number picks a listed choice (their flat, the
# first category, the first "when"), a repair's and a complaint's story in words.
ANSWERS = {
    "repair": ("1", "1", "厨房水槽下水管漏水，柜子里都是水"),
    "complaint": ("楼上装修噪音太大，晚上十点以后还在施工", "1", "1"),
}
# Where each conversation stands after 0, 1, 2, 3 answers.
STEPS = {
    "repair": ("unit", "category", "description", "photos"),
    "complaint": ("what", "when", "where", "who"),
}
SAMPLE_EVERY = 0.5  # seconds between RSS readings
SCRAPE_EVERY = 2.0  # seconds between /metrics scrapes


def user_id(n: int) -> str:
    return str(700_000_000 + n)


def kind(n: int) -> str:
    """Resident n's conversation: a repair (7 in 10) or a complaint."""
    return "repair" if n % 10 < 7 else "complaint"


# ---- the store ---------------------------------------------------------------------------


def _rows(residents: int, now: datetime) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
    """Communities, buildings, flats, people, bindings and identities; resident n owns flat n."""
    communities = range(1, (residents - 1) // PER_COMMUNITY + 2)
    yield (
        _table(Community),
        [
            {"id": c, "code": f"M{c:03d}", "name": f"小区{c}", "management_rate": Decimal("2.50")}
            for c in communities
        ],
    )
    yield (
        _table(Building),
        [{"id": c, "community_id": c, "name": "1栋"} for c in communities],
    )  # one large building each: where a resident lives does not change the memory
    flats = [
        {
            "id": n,
            "community_id": (n - 1) // PER_COMMUNITY + 1,
            "building_id": (n - 1) // PER_COMMUNITY + 1,
            "label": f"1栋{n % 30 + 1}层{n:06d}",
            "area_m2": Decimal("89.50"),
            "handover_date": date(2019, 9, 1),
            "extra_monthly": Decimal("0"),
        }
        for n in range(1, residents + 1)
    ]
    yield from _chunks(_table(Unit), flats)
    people = [
        {"id": n, "name": f"住户{n}", "phone": f"139{n:08d}", "is_company": False,
         "created_at": now}
        for n in range(1, residents + 1)
    ]  # fmt: skip
    yield from _chunks(_table(Person), people)
    bindings = [
        {"id": n, "person_id": n, "unit_id": n, "role": "owner", "verified_by": "roster",
         "created_at": now}
        for n in range(1, residents + 1)
    ]  # fmt: skip
    yield from _chunks(_table(Binding), bindings)
    identities = [
        {"id": n, "channel": "telegram", "external_user_id": user_id(n), "person_id": n,
         "locale": "zh_CN", "display_name": f"住户{n}"}
        for n in range(1, residents + 1)
    ]  # fmt: skip
    yield from _chunks(_table(ChatIdentity), identities)


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _chunks(
    table: Table, rows: list[dict[str, Any]]
) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
    for start in range(0, len(rows), CHUNK):
        yield table, rows[start : start + CHUNK]


async def fill(url: str, residents: int) -> None:
    """A migrated SQLite store with `residents` bound residents, by bulk insert."""
    db = Database(url)
    try:
        await upgrade(db.engine)
        for table, rows in _rows(residents, datetime.now(UTC)):
            async with db.engine.begin() as connection:
                await connection.execute(insert(table), rows)
    finally:
        await db.dispose()


# Two residents of each kind start their conversation through the engine.
TEMPLATES = {"repair": (1, 2), "complaint": (7, 8)}
SHAPE = ("flow", "flow_version", "step", "answers", "trail", "mode")


async def start_conversations(url: str, residents: int, data_dir: Path) -> None:
    """Every resident waits at their flow's first question: the engine starts the
    conversations of TEMPLATES, and their rows are copied for everyone else."""
    from bot.app import App
    from bot.settings import Settings
    from handlers.core.messages import Incoming

    app = await App.start(Settings(database_url=url, data_dir=data_dir))
    try:
        for name, chosen in TEMPLATES.items():
            for n in chosen:
                msg = Incoming(
                    channel="telegram",
                    chat_id=user_id(n),
                    user_id=user_id(n),
                    at=app.clock.now(),
                    message_id=f"tg:start-{n}",
                    text=f"/{name}",
                    language="zh-hans",
                )
                await app.engine.handle(msg)
        shapes: dict[str, dict[str, Any]] = {}
        async with app.db.transaction() as session:
            for name, chosen in TEMPLATES.items():
                found = []
                for n in chosen:
                    state = await session.get(DialogState, ("telegram", user_id(n), user_id(n)))
                    assert state is not None, f"no conversation for resident {n}"
                    found.append({key: getattr(state, key) for key in SHAPE})
                # Nothing in the row is the resident's own: a copy is what the engine writes.
                if found[0] != found[1] or found[0]["step"] != STEPS[name][0]:
                    raise AssertionError(f"{name}: the engine wrote {found}")
                shapes[name] = found[0]
        now = app.clock.now()
        rest = [n for n in range(1, residents + 1) if n not in {*sum(TEMPLATES.values(), ())}]
        rows = [
            {"channel": "telegram", "chat_id": user_id(n), "user_id": user_id(n),
             **shapes[kind(n)], "updated_at": now}
            for n in rest
        ]  # fmt: skip
        for table, chunk in _chunks(_table(DialogState), rows):
            async with app.db.engine.begin() as connection:
                await connection.execute(insert(table), chunk)
    finally:
        await app.close()


def steps_now(path: Path) -> dict[tuple[str, str], int]:
    """(flow, step) → conversations there, read straight from the file."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT flow, step, count(*) FROM dialog_state WHERE mode = 'flow' GROUP BY flow, step"
        ).fetchall()
    return {(str(flow), str(step)): int(count) for flow, step, count in rows}


# ---- the process measured ----------------------------------------------------------------


def _status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB, from /proc (Linux)."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


def _command() -> list[str]:
    """The `frontdesk` console script beside this interpreter, else `python -m bot.cli`."""
    script = Path(sys.executable).with_name("frontdesk")
    if script.exists():
        return [str(script), "run"]
    return [sys.executable, "-m", "bot.cli", "run"]


class Frontdesk:
    """`frontdesk run` in a process of its own, configured by environment only."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.http = ClientSession(timeout=ClientTimeout(total=10))

    @property
    def pid(self) -> int:
        return self.process.pid

    def status(self) -> dict[str, float]:
        if self.process.returncode is not None:
            raise RuntimeError(f"frontdesk run ended ({self.process.returncode}):\n{self.tail()}")
        return _status(self.pid)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])

    async def metrics(self) -> dict[str, float]:
        """The process's own /metrics, from its HTTP listener."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        async with self.http.get(url) as response:
            response.raise_for_status()
            body = await response.text()
        return {
            name.removeprefix("frontdesk_"): float(value)
            for name, _, value in (line.partition(" ") for line in body.splitlines())
            if name.startswith("frontdesk_")
        }


@contextlib.asynccontextmanager
async def frontdesk_run(
    url: str, data_dir: Path, emulator: BotAPIEmulator
) -> AsyncIterator[Frontdesk]:
    """Start `frontdesk run` against the emulator; yields once it polls for updates."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(
        FRONTDESK_DATABASE_URL=url,
        FRONTDESK_DATA_DIR=str(data_dir),
        FRONTDESK_TELEGRAM_TOKEN=TOKEN,
        FRONTDESK_TELEGRAM_API_URL=emulator.base_url,
        FRONTDESK_HTTP_HOST="127.0.0.1",
        FRONTDESK_HTTP_PORT=str(port),
    )
    log = data_dir / f"frontdesk-{port}.log"
    polls = _polls(emulator)
    with log.open("wb") as out:
        # In the data folder: no frontdesk.toml of the working tree is read.
        process = await asyncio.create_subprocess_exec(
            *_command(), cwd=data_dir, env=env, stdout=out, stderr=out
        )
    bot = Frontdesk(process, port, log)
    try:
        while _polls(emulator) == polls:
            bot.status()  # raises if it ended
            await asyncio.sleep(0.1)
        yield bot
    finally:
        await bot.http.close()
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # as ^C: the channels and workers stop
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


def _polls(emulator: BotAPIEmulator) -> int:
    return sum(call.method.lower() == "getupdates" for call in emulator.history)


@dataclass
class Phase:
    """One stretch of the run: RSS in MB, the outbox as /metrics told it."""

    name: str
    updates: int = 0
    seconds: float = 0.0
    backlog: int = 0  # the most replies waiting in the outbox at a scrape
    highest: float = 0.0  # the highest VmRSS sampled
    after: float = 0.0  # VmRSS once every update was handled and every reply delivered


async def until_quiet(
    bot: Frontdesk, phase: Phase, handled: float, settle: float, limit: float
) -> float:
    """Sample RSS until `handled` updates are handled and the outbox is empty, then wait
    `settle` seconds; returns the updates handled."""
    started = time.monotonic()
    scraped = 0.0
    figures: dict[str, float] = {}
    quiet_since: float | None = None
    while True:
        now = time.monotonic()
        phase.highest = max(phase.highest, bot.status()["VmRSS"])
        if now - scraped >= SCRAPE_EVERY or quiet_since is None:
            with contextlib.suppress(ClientError, TimeoutError):
                figures = await bot.metrics()
                scraped = now
                phase.backlog = max(phase.backlog, int(figures["outbox_pending"]))
        done = (
            bool(figures)
            and figures["updates_handled_total"] >= handled
            and figures["outbox_pending"] == 0
        )
        if done and quiet_since is None:
            quiet_since = now
            phase.seconds = now - started
        if not done:
            quiet_since = None
        if quiet_since is not None and now - quiet_since >= settle:
            phase.after = bot.status()["VmRSS"]
            phase.highest = max(phase.highest, phase.after)
            return figures["updates_handled_total"]
        if now - started > limit:
            raise RuntimeError(f"{phase.name}: not done after {limit:.0f} s: {figures}")
        await asyncio.sleep(SAMPLE_EVERY)


# What `frontdesk run` imports before it does anything: the command line and the app with
# its HTTP listener, the desk's web workspace and the workers, then the Telegram channel.
IMPORTS = (
    ("bot.cli.run", "bot.app", "bot.http", "bot.ops", "bot.web", "bot.workers",
     "bot.channels.console"),
    ("bot.channels.telegram",),
)  # fmt: skip
IMPORT_PROBE = """
import importlib, sys
from pathlib import Path
def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
print(rss())
for group in sys.argv[1:]:
    for name in group.split(","):
        importlib.import_module(name)
    print(rss())
"""


async def import_costs() -> list[float]:
    """VmRSS of a fresh interpreter: bare, then after each group of IMPORTS."""
    probe = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        IMPORT_PROBE,
        *(",".join(group) for group in IMPORTS),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await probe.communicate()
    if probe.returncode != 0:
        raise RuntimeError("the import probe failed")
    return [float(line) for line in out.decode().split()]


# ---- the run -------------------------------------------------------------------------------


@dataclass
class Readings:
    """What was measured, RSS in MB."""

    residents: int
    wave: int
    settle: float  # seconds of quiet before a reading
    filled: float = 0.0  # seconds to fill the store
    empty: float | None = None  # VmRSS of `frontdesk run` on the roster alone, settled
    phases: list[Phase] = field(default_factory=list)
    peak: float = 0.0  # VmHWM at the end
    steps: dict[tuple[str, str], int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)  # successful Bot API calls
    too_many: int = 0  # 429s: the bot over Telegram's limits
    imports: list[float] = field(default_factory=list)  # see import_costs
    seconds: float = 0.0

    @property
    def baseline(self) -> float:
        return self.phases[0].after

    @property
    def end(self) -> float:
        return self.phases[-1].after


SETS = 3  # sets of residents who start answering, one wave each (3: prime to 10, see spread)


def spread(residents: int, count: int) -> list[int]:
    """`count` residents spread evenly over all of them, the kinds in turn (resident n's
    kind goes by n % 10), none of those the engine itself started (1 to 9)."""
    blocks = residents // 10
    if not 0 < count <= 10 * (blocks - 1):
        raise ValueError(f"{count} residents cannot be spread over {residents}")
    return [10 * (1 + i * (blocks - 1) // count) + i % 10 for i in range(count)]


def waves(residents: int, wave: int) -> list[tuple[str, list[tuple[int, str]]]]:
    """The traffic: (name, [(resident, text)]). SETS sets of `wave` residents, each spread
    over all of them with 7 in 10 in a repair, answer the first question, a wave a set;
    then the first set answers the next two questions at once."""
    chosen = spread(residents, SETS * wave)
    sets = [chosen[j::SETS] for j in range(SETS)]
    found = [
        (
            f"wave {j + 1}: {wave:,} {'other ' if j else ''}residents answer the first question",
            [(n, ANSWERS[kind(n)][0]) for n in members],
        )
        for j, members in enumerate(sets)
    ]
    found.append(
        (
            f"wave {SETS + 1}: the first {wave:,} answer two more at once",
            [(n, text) for n in sets[0] for text in ANSWERS[kind(n)][1:]],
        )
    )
    return found


def expected(residents: int, wave: int) -> dict[tuple[str, str], int]:
    """Where every conversation must stand after the waves."""
    answered = Counter(n for _, messages in waves(residents, wave) for n, _ in messages)
    return dict(Counter((kind(n), STEPS[kind(n)][answered[n]]) for n in range(1, residents + 1)))


async def measure(residents: int, wave: int, settle: float, at_rest: bool = True) -> Readings:
    """Fill the store, run `frontdesk run` on it and drive the waves; see the docstring.
    `at_rest`: first run it on the roster alone, for what the stored conversations cost."""
    readings = Readings(residents, wave, settle)
    started = time.monotonic()
    imports = asyncio.create_task(import_costs())  # a process of its own, meanwhile
    emulator = BotAPIEmulator(TOKEN, enforce_limits=True)
    await emulator.start()
    try:
        with tempfile.TemporaryDirectory(prefix="frontdesk-memory-") as tmp:
            data_dir = Path(tmp)
            path = data_dir / "memory.db"
            url = f"sqlite+aiosqlite:///{path}"
            await fill(url, residents)
            readings.filled = time.monotonic() - started
            readings.imports = await imports
            _progress(started, f"{residents:,} residents stored")

            if at_rest:
                async with frontdesk_run(url, data_dir, emulator) as bot:
                    empty = Phase("roster only")
                    await until_quiet(bot, empty, 0, settle, limit=120)
                    readings.empty = empty.after
                _progress(started, f"the roster alone: {empty.after:.1f} MB")

            await start_conversations(url, residents, data_dir)
            if sum(steps_now(path).values()) != residents:
                raise AssertionError(f"conversations in progress: {steps_now(path)}")
            _progress(started, f"{residents:,} conversations in progress")

            async with frontdesk_run(url, data_dir, emulator) as bot:
                baseline = Phase("baseline: started, polling, no traffic")
                handled = await until_quiet(bot, baseline, 0, settle, limit=120)
                readings.phases.append(baseline)
                _progress(started, f"baseline: {baseline.after:.1f} MB")
                for name, messages in waves(residents, wave):
                    phase = Phase(name, updates=len(messages))
                    for n, text in messages:
                        chat = int(user_id(n))
                        emulator.send_text(chat, chat, text, first_name=f"住户{n}")
                    handled = await until_quiet(
                        bot, phase, handled + len(messages), settle, limit=120 + len(messages)
                    )
                    readings.phases.append(phase)
                    _progress(
                        started,
                        f"{name}: {phase.seconds:.0f} s, backlog up to {phase.backlog:,}, "
                        f"{phase.after:.1f} MB (highest {phase.highest:.1f})",
                    )
                readings.peak = bot.status()["VmHWM"]
            readings.steps = steps_now(path)
    finally:
        await emulator.stop()
    readings.calls = dict(Counter(call.method for call in emulator.history if call.ok))
    readings.too_many = emulator.too_many
    readings.seconds = time.monotonic() - started
    want = expected(residents, wave)
    if readings.steps != want:
        raise AssertionError(f"conversations: {readings.steps}, expected {want}")
    return readings


def _progress(started: float, what: str) -> None:
    print(f"  {time.monotonic() - started:5.0f} s  {what}", flush=True)


# ---- the section ------------------------------------------------------------------------------


async def run(quick: bool) -> Section:
    residents, wave, settle = (2_000, 50, 1.0) if quick else (100_000, 2_500, 5.0)
    section = Section("Memory: conversations in progress")
    # Quick: no start on the roster alone, whose comparison needs the large store anyway.
    describe(section, await measure(residents, wave, settle, at_rest=not quick))
    return section


def describe(section: Section, r: Readings) -> None:
    updates = sum(p.updates for p in r.phases)
    bare, app, telegram = r.imports
    first, last_new = r.phases[1], r.phases[SETS]
    with_traffic = (last_new.after - first.after) / ((SETS - 1) * r.wave) * 10_000
    stored = (
        ""
        if r.empty is None
        else f"{(r.baseline - r.empty) / r.residents * 10_000:+.2f} MB stored and waiting "
        "(the two baselines), "
    )
    section.add(
        "The measured process is `frontdesk run` itself (the console script) with the "
        "Telegram channel on: long polling a Bot API emulator on 127.0.0.1 that runs in the "
        "benchmark's process with Telegram's flood limits; its HTTP listener (scraped for "
        f"`/metrics` every {SCRAPE_EVERY:.0f} s), the delivery loop and the workers running; "
        f"SQLite. RSS is read from /proc/PID/status: VmRSS every {SAMPLE_EVERY} s, VmHWM for "
        f"the peak. {r.residents:,} residents bound to their flats (store filled in "
        f"{r.filled:.0f} s), each waiting at a flow's first question: the engine started a "
        "repair and a complaint for two residents each, and their `dialog_state` rows were "
        "copied for everyone else (7 in 10 a repair). Then "
        f"{updates:,} updates through the emulator, in waves released at once, from "
        f"{SETS * r.wave:,} residents spread over all of them. The bot handles updates "
        "faster than Telegram lets its replies out (30 a second), so each wave's replies "
        "queue in the outbox; a wave ends when every update is handled and every reply "
        f"delivered, and RSS is read after {r.settle:.0f} s of quiet."
    )
    section.add()
    rows: list[tuple[object, ...]] = []
    if r.empty is not None:
        rows.append(("the roster alone, no conversation (a start of its own)", *[""] * 3,
                     f"{r.empty:.1f}"))  # fmt: skip
    rows += [
        (
            p.name,
            f"{p.updates:,}" if p.updates else "",
            f"{p.seconds:.0f} s" if p.updates else "",
            f"{p.backlog:,}" if p.updates else "",
            f"{p.after:.1f} (highest {p.highest:.1f})" if p.updates else f"{p.after:.1f}",
        )
        for p in r.phases
    ]
    rows.append(("peak (VmHWM)", "", "", "", f"{r.peak:.1f}"))
    section.table(
        ("when", "updates", "handled and delivered in", "largest outbox backlog", "RSS, MB"),
        rows,
    )
    steps = ", ".join(f"{count:,} at `{f}.{s}`" for (f, s), count in sorted(r.steps.items()))
    section.add(
        f"At the end {sum(r.steps.values()):,} conversations were in a flow, each exactly where "
        f"its answers put it ({steps}). The bot sent {r.calls.get('sendMessage', 0):,} "
        f"messages; {r.too_many} were answered 429. Per 10,000 conversations: {stored}"
        f"{with_traffic:+.2f} MB for conversations that started answering (waves 2 to "
        f"{SETS} against wave 1, after warm-up). A conversation is a `dialog_state` row; "
        "delivery reads the outbox a few hundred chats at a time."
    )
    section.add()
    section.add(
        f"Where the baseline goes: a bare interpreter is {bare:.1f} MB; with the command "
        f"line, the app, its HTTP listener, the desk's web workspace and the workers "
        f"imported, {app:.1f} MB; with the "
        f"Telegram channel, {telegram:.1f} MB: importing aiogram builds a pydantic validator "
        "and serializer for every type and method of the Bot API "
        f"(aiogram issue #1513), {telegram - app:+.1f} MB before the first update. The "
        f"whole run took {r.seconds / 60:.1f} min."
    )
    section.target(
        f"RSS of `frontdesk run` with {r.residents:,} conversations in progress ≤ "
        f"{TARGET_MB:.0f} MB (peak {r.peak:.1f} MB; baseline {r.baseline:.1f} MB, "
        f"end {r.end:.1f} MB)",
        r.peak <= TARGET_MB,
    )
