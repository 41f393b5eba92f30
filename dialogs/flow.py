"""How a conversation flow is declared: steps with prompts, parsers, choices and conditions.

A flow is data. The engine (dialogs/engine.py) asks each step's prompt, passes the
answer to the step's parser, keeps the parsed value, and at the end shows the summary
and calls `finish`. Parsers raise `InputError(key, **params)` to have the step asked again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.core.context import Context
from handlers.core.messages import Choice, Reply

Answers = Mapping[str, Any]


class InputError(Exception):
    """An answer a step cannot take; `key` names the polite explanation in the catalogs."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Answer:
    """What the user gave at a step. `option` is the value of a chosen choice."""

    text: str | None = None
    option: str | None = None
    contact: str | None = None
    photo: str | None = None


Parser = Callable[[Answer, Context, Answers], Any]
ChoicesFn = Callable[[Context, Answers], Awaitable[Sequence[Choice]]]
ParamsFn = Callable[[Context, Answers], Awaitable[Mapping[str, Any]]]


def text_answer(answer: Answer, ctx: Context, answers: Answers) -> str:
    """The default parser: some text, at most 500 characters."""
    return bounded_text(answer, 500)


def bounded_text(answer: Answer, limit: int, minimum: int = 1) -> str:
    if answer.photo and not answer.text:
        raise InputError("dialog.error.text_expected")
    text = (answer.text or "").strip()
    if len(text) < minimum:
        raise InputError("dialog.error.empty")
    if len(text) > limit:
        raise InputError("dialog.error.too_long", limit=limit, length=len(text))
    return text


def chosen(answer: Answer, ctx: Context, answers: Answers) -> str:
    """The parser of a step with choices: the value the engine resolved."""
    if answer.option is None:
        raise InputError("dialog.error.choose")
    return answer.option


@dataclass(frozen=True)
class Step:
    """One question of a flow."""

    name: str
    prompt: str
    parse: Parser = text_answer
    choices: Sequence[Choice] | ChoicesFn = ()
    when: Callable[[Answers], bool] | None = None
    prompt_params: ParamsFn | None = None
    # A proposed answer (e.g. the name on the binding) offered as a one-press choice.
    prefill: Callable[[Context, Answers], Awaitable[Any]] | None = None
    optional: bool = False  # offers "skip"; the answer is then None
    many: bool = False  # collects answers (photos) into a list until "done"
    collected: str = "dialog.collected"  # what is said after each answer of a `many` step
    # How many things a `many` step holds so far (its `{count}`): answers by default; a
    # step whose answers are lists (several items in one message) counts the items.
    count: Callable[[list[Any]], int] = len
    request_contact: bool = False
    # The answer is a number (an amount, a count): "1" typed here is one, never a choice's
    # position (with only "cancel" offered, "1" would cancel the flow).
    numeric: bool = False

    def applies(self, answers: Answers) -> bool:
        return self.when is None or bool(self.when(answers))


@dataclass(frozen=True)
class Detour:
    """Words typed in one flow that belong to another: switch at once (an emergency in the
    repair flow), or ask first (`ask`), carrying the text as the new flow's first answer."""

    flow: str
    text: str
    ask: bool = True


# Given the flow a resident is in and what they typed, where it should go instead.
DetourCheck = Callable[[Context, str, str], Awaitable[Detour | None]]

Finish = Callable[[Context, dict[str, Any]], Awaitable[list[Reply]]]
Starter = Callable[[Context, str | None], Awaitable["dict[str, Any] | list[Reply]"]]


@dataclass(frozen=True)
class Flow:
    """A named sequence of steps ending in a summary to confirm and a finishing use-case.

    `start` may refuse (returning replies, e.g. "bind your unit first") or return the
    initial answers (e.g. the description from a free-text message).
    """

    name: str
    title: str
    steps: tuple[Step, ...]
    summary: str
    summarize: ParamsFn
    finish: Finish
    start: Starter | None = None
    in_menu: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)
    # False: finish as soon as the last step is answered (an emergency is not a form to
    # confirm); True: show the summary first.
    confirm: bool = True
    # May run in a group chat: staff task flows, and the guard's `/slip CODE` check. A
    # resident's flow never does: the group would see their answers.
    in_groups: bool = False
    # A resident's flow: words typed at a step that plainly ask for something else
    # ("我要投诉：…" at the visiting-time step) are offered a switch (see `Detour`).
    detours: bool = False

    @property
    def version(self) -> str:
        """Changes whenever the steps change, so old conversations are noticed."""
        shape = "|".join(f"{s.name}:{s.prompt}:{s.many}:{s.optional}" for s in self.steps)
        return hashlib.sha1(shape.encode()).hexdigest()[:12]

    def step(self, name: str | None) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def next_step(self, answers: Answers) -> Step | None:
        """The first applicable step still unanswered; None when the summary is next."""
        for step in self.steps:
            if step.applies(answers) and step.name not in answers:
                return step
        return None

    def kept(self, answers: Answers) -> dict[str, Any]:
        """Answers of the steps that still apply (a changed answer can rule others out)."""
        names = {s.name for s in self.steps if s.applies(answers)}
        return {k: v for k, v in answers.items() if k in names or k.startswith("_")}
