"""Questions (咨询): which common topic a question is about, the charges quoted for it, and
when a question the desk must look into is answered.

A question that needs a specialist is recorded and answered by an agreed time (DOMAIN.md
section 8): by the end of the next working day, 18:00 local time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from handlers.rules.intent import decide

TOPICS = ("hours", "fees", "renovation", "parking", "pets", "outage", "parcels")
REPLY_AT = time(18, 0)
# The owner's share of public energy (公共能耗费), yuan per m² per month.
PUBLIC_ENERGY_RATE = Decimal("0.30")
CENT = Decimal("0.01")


def next_working_day(day: date) -> date:
    """The first Monday-to-Friday day after `day`."""
    following = day + timedelta(days=1)
    while following.weekday() >= 5:
        following += timedelta(days=1)
    return following


def reply_by(asked_at: datetime, tz: tzinfo) -> datetime:
    """A recorded question is answered by 18:00 local on the next working day."""
    day = next_working_day(asked_at.astimezone(tz).date())
    return datetime.combine(day, REPLY_AT, tzinfo=tz)


def monthly_charges(rate: Decimal, area: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Management fee, public energy share and their sum for one month, to the fen."""
    management = (rate * area).quantize(CENT, rounding=ROUND_HALF_UP)
    energy = (PUBLIC_ENERGY_RATE * area).quantize(CENT, rounding=ROUND_HALF_UP)
    return management, energy, management + energy


def topic_of(text: str, words: Mapping[str, Collection[str]]) -> str | None:
    """The common topic a question is clearly about, or None."""
    return decide(text, words).intent
