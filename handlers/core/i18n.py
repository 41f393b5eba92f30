"""Catalogs (gettext `.po` files under `locales/`) and per-locale formatting (Babel).

Every `.po` file in `locales/<locale>/LC_MESSAGES/` is one domain, named by feature;
all domains of a locale are merged. Message ids are keys like `repair.unit.prompt`;
a key missing in a locale falls back to the default locale, then to the key itself.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from handlers.core.messages import Choice, Money, Reply, Text

LOCALES = ("zh_CN", "en")


def locales_dir() -> Path:
    """Where the catalogs are: `locales/` beside the code, in the repository as after
    `pip install` (the wheel installs them as the data-only namespace package `locales`)."""
    beside = Path(__file__).resolve().parents[2] / "locales"
    if (beside / LOCALES[0]).is_dir():
        return beside
    # Installed into another directory of the path than the code: ask the import system.
    spec = importlib.util.find_spec("locales")
    for place in (spec.submodule_search_locations or []) if spec else []:
        if (Path(place) / LOCALES[0]).is_dir():
            return Path(place)
    return beside


def load_po_dir(root: Path, locale: str) -> dict[str, str]:
    """All translated messages of one locale, from every domain file."""
    messages: dict[str, str] = {}
    for path in sorted((root / locale / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        for message in catalog:
            if message.id and isinstance(message.id, str) and message.string:
                messages[message.id] = str(message.string)
    return messages


class Catalogs:
    """Translations of every locale plus the formatting rules of each."""

    def __init__(
        self, messages: Mapping[str, Mapping[str, str]], default_locale: str, tz: ZoneInfo
    ) -> None:
        self.messages = messages
        self.default_locale = default_locale
        self.tz = tz
        self._words: dict[str, frozenset[str]] = {}

    @classmethod
    def load(cls, default_locale: str, tz: ZoneInfo, root: Path | None = None) -> Catalogs:
        root = root or locales_dir()
        return cls({loc: load_po_dir(root, loc) for loc in LOCALES}, default_locale, tz)

    def pick(self, *hints: str | None) -> str:
        """The first supported locale among hints such as `en-US` or `zh-hans`."""
        for hint in hints:
            if not hint:
                continue
            low = hint.lower().replace("-", "_")
            if low.startswith("zh"):
                return "zh_CN"
            if low.startswith("en"):
                return "en"
        return self.default_locale

    def has(self, locale: str, key: str) -> bool:
        return key in self.messages.get(locale, {})

    def template(self, locale: str, key: str) -> str:
        own = self.messages.get(locale, {})
        if key in own:
            return own[key]
        return self.messages.get(self.default_locale, {}).get(key, key)

    def text(self, locale: str, key: str, params: Mapping[str, Any] | None = None) -> str:
        """The message for `key` in `locale` with its parameters formatted."""
        template = self.template(locale, key)
        if not params:
            return template
        values = {name: self.format(locale, value) for name, value in params.items()}
        try:
            return template.format_map(values)
        except (KeyError, IndexError, ValueError):
            # A translation that names a missing parameter still says something useful.
            return template

    def format(self, locale: str, value: Any) -> str:
        """One parameter, formatted for the reader's locale and time zone."""
        if value is None:
            return "—" if locale == "zh_CN" else "-"
        if isinstance(value, Text):
            return self.text(locale, value.key, value.params)
        if isinstance(value, list | tuple):
            # A list parameter is shown one item per line.
            return "\n".join(self.format(locale, item) for item in value)
        if isinstance(value, Money):
            return format_currency(value.amount, "CNY", locale=locale)
        if isinstance(value, datetime):
            local = value.astimezone(self.tz)
            return format_datetime(local, "yyyy-MM-dd HH:mm", locale=locale)
        if isinstance(value, date):
            return format_date(value, "medium", locale=locale)
        if isinstance(value, Decimal):
            return format_decimal(value, locale=locale)
        return str(value)

    def words(self, key: str) -> set[str]:
        """Every locale's spelling of a `|`-separated word list (e.g. `words.cancel`);
        read once per list, since the catalogs do not change once loaded."""
        found = self._words.get(key)
        if found is None:
            spelled: set[str] = set()
            for locale in LOCALES:
                raw = self.messages.get(locale, {}).get(key, "")
                spelled.update(w.strip().lower() for w in raw.split("|") if w.strip())
            found = self._words[key] = frozenset(spelled)
        return set(found)

    def label(self, locale: str, choice: Choice) -> str:
        return self.text(locale, choice.key, choice.params)

    def render(self, reply: Reply, locale: str) -> dict[str, Any]:
        """The outbox payload of a reply: final text and button labels in one locale."""
        payload: dict[str, Any] = {
            # An optional last line left empty (no note, no warning) leaves no blank line.
            "text": self.text(locale, reply.key, reply.params).rstrip(),
            "key": reply.key,
            "locale": locale,
        }
        if reply.choices:
            payload["buttons"] = [
                {"label": self.label(locale, c), "value": c.value} for c in reply.choices
            ]
        for name in ("card", "photo", "document"):
            if getattr(reply, name):
                payload[name] = getattr(reply, name)
        if reply.request_contact:
            payload["request_contact"] = True
        return payload
