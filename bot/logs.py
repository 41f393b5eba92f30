"""Structured logs: one JSON object a line, with phone numbers masked and secrets removed.

Personal data law (PIPL) and plain prudence: a log line goes to files, terminals and log
collectors that many people read, so a resident's mobile number appears as `138****5678`
and a token or password from the settings is replaced by `[secret]` — even when someone
logs one by mistake, and also inside exception tracebacks.
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

# A mainland mobile (optionally +86) or a landline with its area code and a hyphen, not
# part of a longer run of digits (an order number, a timestamp, a Telegram id).
_PHONE_IN_TEXT = re.compile(r"(?<![\d])(?:\+?86[- ]?)?(1[3-9]\d{9}|0\d{2,3}-\d{7,8})(?![\d])")
SECRET_MARK = "[secret]"
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
        return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(1).replace("-", "")), text)


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
    """Send every log record of the process through `make_handler`."""
    logging.basicConfig(level=level, handlers=[make_handler(settings, stream)], force=True)
