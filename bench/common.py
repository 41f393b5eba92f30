"""What every benchmark shares: its result section, the machine, throwaway databases."""

from __future__ import annotations

import contextlib
import getpass
import os
import platform
import socket
import statistics
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from storage.db import Database
from storage.migrate import upgrade

DEFAULT_PG = "postgresql://127.0.0.1:5432/test"


@dataclass
class Section:
    """One benchmark's part of RESULTS.md: a heading, markdown lines, and pass/miss lines."""

    title: str
    lines: list[str] = field(default_factory=list)
    targets: list[tuple[str, bool]] = field(default_factory=list)  # (what, met)

    def add(self, line: str = "") -> None:
        self.lines.append(line)
        print(line, flush=True)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.add("| " + " | ".join(header) + " |")
        self.add("|" + "---|" * len(header))
        for row in rows:
            self.add("| " + " | ".join(str(cell) for cell in row) + " |")
        self.add()

    def target(self, what: str, met: bool) -> None:
        self.targets.append((what, met))
        print(f"{'met' if met else 'MISSED'}: {what}", flush=True)

    def markdown(self) -> str:
        out = [f"## {self.title}", "", *self.lines]
        if self.targets:
            out += ["", "Targets:", ""]
            out += [f"- {'met' if met else '**missed**'}: {what}" for what, met in self.targets]
        return "\n".join(out).rstrip() + "\n"


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100) of `values`, by the inclusive method."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(p) - 1))]


def machine() -> str:
    """A line saying what the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    pg = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        pg = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    import sqlite3

    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {pg or 'PostgreSQL (version unknown)'}"
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a process started next to listen on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb() -> float:
    """This process's resident set size in MB, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@contextlib.asynccontextmanager
async def sqlite_database(name: str = "bench") -> AsyncIterator[Database]:
    """A migrated SQLite file in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / f'{name}.db'}")
        try:
            await upgrade(db.engine)
            yield db
        finally:
            await db.dispose()


def _server() -> URL:
    return make_url(os.environ.get("FRONTDESK_BENCH_PG", DEFAULT_PG))


async def _admin() -> asyncpg.Connection:
    dsn = _server()
    users = [dsn.username] if dsn.username else ["postgres", getpass.getuser()]
    last: Exception | None = None
    for user in users:
        try:
            return await asyncpg.connect(
                host=dsn.host,
                port=dsn.port or 5432,
                user=user,
                password=dsn.password,
                database=dsn.database,
                timeout=5,
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            last = exc
    raise RuntimeError(f"PostgreSQL is not reachable ({last!r}); set FRONTDESK_BENCH_PG")


@contextlib.asynccontextmanager
async def pg_database() -> AsyncIterator[Database]:
    """A fresh, migrated PostgreSQL database (FRONTDESK_BENCH_PG's server), dropped after."""
    name = f"frontdesk_bench_{uuid.uuid4().hex[:10]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        user = await admin.fetchval("SELECT current_user")
    finally:
        await admin.close()
    dsn = _server()
    url = URL.create(
        "postgresql+asyncpg",
        username=user,
        password=dsn.password,
        host=dsn.host,
        port=dsn.port or 5432,
        database=name,
    ).render_as_string(hide_password=False)
    db = Database(url)
    try:
        await upgrade(db.engine)
        yield db
    finally:
        await db.dispose()
        admin = await _admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
