"""Retention runs as a daily job (handlers/retention.py); this registers it and its first run."""

from __future__ import annotations

from dialogs.feature import Feature
from handlers import retention

FEATURE = Feature(
    name="retention",
    jobs={retention.DAILY: retention.daily},
    startup=[retention.schedule_daily],
)
