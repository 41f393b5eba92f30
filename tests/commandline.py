"""Run the `frontdesk` command line as a subprocess on a SQLite file in a work folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def frontdesk(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    environ.update(
        FRONTDESK_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'fd.db'}",
        PYTHONPATH=str(ROOT),
        PYTHONIOENCODING="utf-8",
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=workdir,
        env=environ,
        timeout=120,
    )
