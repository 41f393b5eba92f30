"""Retention runs as a daily job (handlers/retention.py); this registers it and its first run."""

from __future__ import annotations

from handlers import retention

JOBS = {retention.DAILY: retention.daily}
STARTUP = [retention.schedule_daily]
