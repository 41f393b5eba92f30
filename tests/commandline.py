"""Run the `frontdesk` command line on a SQLite file (`fd.db`) in a work folder.

`frontdesk` runs the command in this process, through Typer's `CliRunner`: the same
`bot.cli.cli` the console script calls, with the work folder as the current directory,
no FRONTDESK_ setting but the database and those the test gives, the script on stdin,
and stdout and stderr captured apart. What a separate process would give for free is put
back afterwards: the folder, the environment and the logging the command set up. An
exception that escaped the command is a traceback on stderr and exit status 1, as it
would be from `python -m bot.cli`, so `ok` fails on it.

`frontdesk_process` runs `python -m bot.cli` as a child process, for the few tests that
are about the process itself (the module entry point, a real pipe on stdin).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent


def _settings(workdir: Path, env: dict[str, str]) -> dict[str, str]:
    return {"FRONTDESK_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'fd.db'}", **env}


@contextlib.contextmanager
def _isolated(workdir: Path) -> Iterator[None]:
    """The current directory and the logging set-up, as they were before the command."""
    folder = Path.cwd()
    manager = logging.Logger.manager
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {
        name: logger.level
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(folder)
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, logger in manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.setLevel(levels.get(name, logging.NOTSET))


def _invoke(workdir: Path, args: tuple[str, ...], script: str | None, env: dict[str, str]):
    from bot.cli import cli

    # Only the settings given here: none of the developer's or the CI machine's.
    environ: dict[str, str | None] = {k: None for k in os.environ if k.startswith("FRONTDESK_")}
    environ.update(_settings(workdir, env))
    with _isolated(workdir):
        result = CliRunner().invoke(cli, list(args), input=script or "", env=environ)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(
        ["frontdesk", *args], result.exit_code, result.stdout, stderr
    )


def frontdesk(
    workdir: Path, *args: str, script: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`frontdesk ARGS` in `workdir` on the SQLite file `fd.db` there, with `script` on
    stdin and `env` as further settings; in this process.

    The command runs its own event loop; called from a test's running loop, it runs on
    another thread while that loop waits (a test that must keep serving on its loop
    meanwhile calls this through `asyncio.to_thread`).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _invoke(workdir, args, script, env)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_invoke, workdir, args, script, env).result()


def frontdesk_process(
    workdir: Path, *args: str, script: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m bot.cli ARGS` as a child process, otherwise as `frontdesk`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    environ.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", **_settings(workdir, env))
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=script if script is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=workdir,
        env=environ,
        timeout=300,  # a guard against a hang: seeding the history takes a minute or two
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The command's stdout, once it is clear it succeeded."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def table_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
