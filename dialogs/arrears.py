"""The arrears ladder runs as a daily job; this registers it and its first run."""

from __future__ import annotations

from handlers import arrears

JOBS = {arrears.DAILY: arrears.daily}
STARTUP = [arrears.schedule_daily]
