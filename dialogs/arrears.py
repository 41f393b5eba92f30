"""The arrears ladder runs as a daily job; this registers it and its first run."""

from __future__ import annotations

from dialogs.feature import Feature
from handlers import arrears

FEATURE = Feature(
    name="arrears",
    jobs={arrears.DAILY: arrears.daily},
    startup=[arrears.schedule_daily],
)
