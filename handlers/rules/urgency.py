"""Urgency, decided once: which tickets wake people up at night, and which are emergencies.

The bot promises that leaks and outages can be reported at any hour, and the office's
rules say damage still happening is stopped first (DOMAIN.md §2, seed: 第一时间). A ticket
is urgent when its category is one that cannot wait (a lift, gas), when its words name a
leak or a stopped lift, or when they name an emergency happening now: someone trapped,
fire or smoke, a gas smell, sparks or a shock, water pouring or flooding, a power cut,
something collapsing, a security threat. An emergency also gets the short path (confirm
the place, the ticket at once, what to do now); a dripping pipe is urgent, not that.

Words that put the event elsewhere in time ("明天停电吗", "上次漏水") keep a leak or a power
cut from counting as happening now; fire, gas, people trapped and the rest always count.
The word lists live in the catalogs (both languages) and are passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from handlers.rules.complaint import hits

# In the order they are checked: the most dangerous first, so "电梯里有人被困还冒烟" is fire.
EMERGENCIES = ("fire", "gas", "trapped", "electric", "collapse", "flood", "security", "power")
# Emergencies that a question or another time ("明天停电吗", "上次漏水修好了吗") rules out.
TIMED = frozenset({"flood", "power"})
# Categories that are urgent whatever the words: a lift out of order, anything with gas.
URGENT_CATEGORIES = frozenset({"lift", "gas"})
NOT_NOW = "not_now"
# False friends, taken out of the text before anything is looked for: "点不着火" is no fire,
# "有人在楼道抽烟" no smoke.
IGNORE = "ignore"
URGENT = "urgent"  # words of urgent tickets that are no emergency: a leak, a lift that stopped

# Where each emergency goes, and as which repair category it is counted.
DEPARTMENT = {"fire": "security", "security": "security"}
CATEGORY = {
    "fire": "safety",
    "gas": "gas",
    "trapped": "lift",
    "electric": "electrical",
    "collapse": "public",
    "flood": "water",
    "security": "safety",
    "power": "electrical",
}


@dataclass(frozen=True)
class Urgency:
    urgent: bool
    emergency: str | None = None  # the kind of emergency the words name, if any


def _without(text: str, phrases: Collection[str]) -> str:
    low = text.lower()
    for phrase in sorted((p for p in phrases if p), key=len, reverse=True):
        low = low.replace(phrase.lower(), " ")
    return low


def emergency_in(text: str, words: Mapping[str, Collection[str]]) -> str | None:
    """The emergency a message describes as happening now; None if none."""
    text = _without(text, words.get(IGNORE, ()))
    later = hits(text, words.get(NOT_NOW, ())) > 0
    for kind in EMERGENCIES:
        if kind in TIMED and later:
            continue
        if hits(text, words.get(kind, ())):
            return kind
    return None


def urgency(category: str, text: str, words: Mapping[str, Collection[str]]) -> Urgency:
    """How urgent a ticket with this category and these words is."""
    kind = emergency_in(text, words)
    if kind is not None or category in URGENT_CATEGORIES:
        return Urgency(True, kind)
    text = _without(text, words.get(IGNORE, ()))
    now = hits(text, words.get(NOT_NOW, ())) == 0
    return Urgency(now and hits(text, words.get(URGENT, ())) > 0)


def department_for(kind: str) -> str:
    return DEPARTMENT.get(kind, "repair")


def category_for(kind: str) -> str:
    return CATEGORY[kind]
