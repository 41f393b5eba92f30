"""Structured logs: one JSON object a line, with phone numbers masked and secrets removed.

Personal data law (PIPL) and plain prudence: a log line goes to files, terminals and log
collectors that many people read, so a resident's mobile number appears as `138****5678`
(also written `138-1234-5678`, `138 1234 5678`, `+86 138…`), a landline as
`057*****0000`, an ID-card number (身份证号) as `110***********123X`, and a token or
password from the settings is replaced by `[secret]` — even when someone logs one by
mistake, and also inside exception tracebacks.

The database drivers would log every SQL parameter (what residents wrote, names, phone
numbers) at DEBUG: their loggers stay at WARNING whatever the level (and the engine hides
parameters too, see `storage/db.py`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot.settings import Settings
from handlers.rules.phone import mask_phone

# Each number is found only when not part of a longer run of digits (an order number, a
# timestamp, a Telegram id). Groups may be split by a space or a hyphen, also full-width.
_SEP = "[ \\-\u00a0\u3000\u2010-\u2015\uff0d]"
_ABROAD = rf"(?:(?:\+|00)86{_SEP}?|[(（]\+?86[)）]{_SEP}?)"
# 身份证号: area (6 digits), birth date (8), sequence (3), check digit or X; maybe 6-8-4.
_ID_CARD = re.compile(
    rf"(?<!\d)[1-9]\d{{5}}{_SEP}?(?:18|19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    rf"{_SEP}?\d{{3}}[\dXx](?![\dXx])"
)
# A mainland mobile, 11 digits as one run or split 3-4-4, maybe after +86.
_MOBILE = re.compile(
    rf"(?<![\d+])(?:{_ABROAD}|86{_SEP}?)?(1[3-9]\d){_SEP}?(\d{{4}}){_SEP}?(\d{{4}})(?!\d)"
)
# A landline: area code (0 and 2-3 digits, maybe in brackets; without the 0 after +86),
# then 7-8 digits, maybe split 3-4 or 4-4.
_LANDLINE = re.compile(
    rf"(?<![\d+])(?:[(（]0\d{{2,3}}[)）]|0\d{{2,3}}|{_ABROAD}[(（]?[1-9]\d{{1,2}}[)）]?)"
    rf"{_SEP}?(?:\d{{7,8}}|\d{{3,4}}{_SEP}\d{{4}})(?!\d)"
)
SECRET_MARK = "[secret]"
# The database's loggers: at DEBUG aiosqlite logs each call with its SQL parameters, and
# SQLAlchemy's engine logs parameters and result rows from INFO on.
DRIVER_LOGGERS = ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg")
# Attributes every LogRecord has; anything else was passed with `extra=` and is logged too.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the settings, and the database password."""
    found = [
        value.get_secret_value()
        for name in type(settings).model_fields
        if isinstance(value := getattr(settings, name), SecretStr)
    ]
    password = make_url(settings.database_url).password
    if password:
        found.append(str(password))
    # Longest first, so a secret containing another is replaced whole.
    return sorted({s for s in found if s}, key=len, reverse=True)


class Redactor:
    """Masks phone numbers and removes known secrets from a piece of text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = [s for s in secrets if s]

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, SECRET_MARK)
        return mask_numbers(text)


def mask_numbers(text: str) -> str:
    """ID-card numbers, mobiles and landlines in `text`, masked."""
    text = _ID_CARD.sub(_mask_id, text)
    text = _MOBILE.sub(lambda m: mask_phone(m[1] + m[2] + m[3]), text)
    return _LANDLINE.sub(_mask_landline, text)


def _mask_landline(found: re.Match[str]) -> str:
    abroad = re.match(_ABROAD, found[0])
    digits = re.sub(r"\D", "", found[0][abroad.end() :] if abroad else found[0])
    return mask_phone(digits if digits.startswith("0") else "0" + digits)


def _mask_id(found: re.Match[str]) -> str:
    number = re.sub(r"[^\dXx]", "", found[0]).upper()
    return number[:3] + "*" * 11 + number[-4:]


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (with its arguments already applied) through a Redactor.

    Attached to a handler, it also covers records from libraries (aiogram, aiohttp)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """`{"time": …, "level": …, "logger": …, "message": …, …extra fields, "exception": …}`."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            # Tracebacks quote local values and URLs: redacted like the message.
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_handler(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing redacted JSON lines to `stream` (stderr by default)."""
    redact = Redactor(secrets_of(settings))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter(redact))
    handler.setFormatter(JsonFormatter(redact))
    return handler


def setup(settings: Settings, level: int, stream: IO[str] | None = None) -> None:
    """Send every log record of the process through `make_handler`; the database's
    loggers say no more than warnings, whatever the level."""
    logging.basicConfig(level=level, handlers=[make_handler(settings, stream)], force=True)
    for name in DRIVER_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
