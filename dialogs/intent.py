"""Free text at the main menu goes to the flow it is about (`厨房水管漏水了` starts a repair).

The router scores the message against keyword lists kept in the catalogs (one list per
intent and language, merged, so mixed-language messages work) and starts the flow with
the message as its first answer. When unsure, or when the flow is not offered here, the
resident sees the menu. `frontdesk intent "TEXT"` shows the scores for tuning the lists.
"""

from __future__ import annotations

from dialogs.feature import Feature
from dialogs.flow import Detour
from handlers.core.context import Context
from handlers.core.i18n import Catalogs
from handlers.rules.intent import Decision, decide, explicit, residue

KEYWORDS = {
    "repair": "intent.words.repair",
    "complaint": "intent.words.complaint",
    "fee": "intent.words.fee",
    "slip": "intent.words.slip",
    "question": "intent.words.question",
    "bind": "intent.words.bind",
    "my": "intent.words.my",
}
FILLER = "intent.filler"
# Intents a resident can ask for in so many words ("我要投诉"); their phrases are in the catalogs.
VERBS = ("repair", "complaint", "fee", "slip", "question")
# The flow each intent starts; flows of other features may not be installed.
INTENT_FLOWS = {
    "repair": "repair",
    "complaint": "complaint",
    "fee": "fees",
    "slip": "slip",
    "question": "question",
    "bind": "bind",
    "my": "my",
}
# Less than this left after filler words (`我要报修`) is no description worth keeping.
MIN_RESIDUE = 2


def keyword_lists(catalogs: Catalogs) -> dict[str, set[str]]:
    """Each intent's keywords, every language's together."""
    return {intent: catalogs.words(key) for intent, key in KEYWORDS.items()}


def verb_lists(catalogs: Catalogs) -> dict[str, set[str]]:
    return {intent: catalogs.words(f"intent.verbs.{intent}") for intent in VERBS}


def classify(catalogs: Catalogs, text: str) -> Decision:
    return decide(text, keyword_lists(catalogs), verbs=verb_lists(catalogs))


def explicit_intent(ctx: Context, text: str, at_start: bool = False) -> str | None:
    return explicit(text, verb_lists(ctx.catalogs), at_start)


def initial_text(catalogs: Catalogs, text: str) -> str:
    """The message as the flow's first answer, or "" when it only names the flow."""
    left = residue(text, catalogs.words(FILLER))
    return text.strip() if len(left) >= MIN_RESIDUE else ""


async def route(ctx: Context, text: str) -> tuple[str, str] | None:
    """The flow to start and its initial text; None for the menu."""
    decision = classify(ctx.catalogs, text)
    if decision.intent is None:
        return None
    # A flow or a command ("我的工单" is `/my`); the engine goes to neither if not offered.
    flow = INTENT_FLOWS[decision.intent]
    return flow, initial_text(ctx.catalogs, text)


async def detour(ctx: Context, flow: str, text: str) -> Detour | None:
    """A resident who opens with another request ("我要投诉：…" at the visiting-time step)
    is asked whether to switch, instead of having it stored as the answer."""
    asked = explicit_intent(ctx, text, at_start=True)
    if asked is None:
        return None
    return Detour(INTENT_FLOWS[asked], text)


FEATURE = Feature(
    name="intent",
    router=route,
    detour=detour,
)
