"""Parsers shared by several flows: each returns a value or raises a keyed `InputError`."""

from __future__ import annotations

from dialogs.flow import Answer, Answers, InputError, bounded_text
from handlers.core.context import Context
from handlers.rules.phone import normalise_phone


def name(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = bounded_text(answer, 50)
    if any(ch.isdigit() for ch in text):
        raise InputError("dialog.error.name")
    return text


def phone(answer: Answer, ctx: Context, answers: Answers) -> str:
    raw = answer.contact or answer.text or ""
    if answer.photo and not raw:
        raise InputError("dialog.error.text_expected")
    number = normalise_phone(raw)
    if number is None:
        raise InputError("dialog.error.phone", value=raw[:30])
    return number


def description(answer: Answer, ctx: Context, answers: Answers) -> str:
    text = bounded_text(answer, 1000, minimum=2)
    return text


def photo(answer: Answer, ctx: Context, answers: Answers) -> str:
    if not answer.photo:
        raise InputError("dialog.error.photo_expected")
    return answer.photo


def short_text(answer: Answer, ctx: Context, answers: Answers) -> str:
    return bounded_text(answer, 200)


def option_or_text(answer: Answer, ctx: Context, answers: Answers) -> str:
    """A chosen option's value, or words typed instead (e.g. `周六上午`)."""
    if answer.option:
        return answer.option
    return bounded_text(answer, 100)
