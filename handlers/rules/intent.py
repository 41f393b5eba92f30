"""What a free-text message at the menu is about: a score per intent from keyword lists.

Each keyword found adds its weight: one per Chinese character, two per English word, so
a longer, more specific keyword counts for more (`报修进度` outweighs `报修`); a weak cue
can be given its own weight in the list (`吗=0.5`). English
typos are met halfway: a word of five letters or more within one edit of a keyword
(`compliant`, `leakking`) counts for a part of its weight. Chinese typos are mostly
homophones from the input method (`保修`, `物业废`), which no edit distance predicts, so
the catalogs list the common ones. The keyword lists live in the catalogs, one per intent
and language; they are passed in, so this stays a plain function over data.
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple

THRESHOLD = 1.5  # one two-character word (`漏水`), one English word (`leak`) or its typo
FUZZY_EN = 0.8  # a typo'd word alone still passes the threshold
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


class Decision(NamedTuple):
    intent: str | None  # the best one when sure; None: show the menu
    best: str | None
    score: float
    runner_up: str | None
    runner_up_score: float


def normalise(text: str) -> str:
    """Lower case, full-width letters and digits made plain, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def weight(keyword: str) -> float:
    cjk = len(_CJK.findall(keyword))
    return cjk + 2 * len(_WORD.findall(keyword))


def parse_keyword(entry: str) -> tuple[str, float]:
    """`漏水` weighs what its length says; `吗=0.5` sets the weight of a weak cue."""
    word, sep, given = entry.rpartition("=")
    if sep and word.strip():
        with contextlib.suppress(ValueError):  # `a=b` that is no weight is a plain keyword
            return normalise(word), float(given)
    plain = normalise(entry)
    return plain, weight(plain)


def _one_edit(a: str, b: str) -> bool:
    """Whether `a` and `b` differ by at most one insertion, deletion, change or swap."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


@dataclass(frozen=True)
class _Keyword:
    """A keyword ready to look for: its weight, its compiled pattern, whether typos count."""

    word: str
    weight: float
    pattern: re.Pattern[str]
    fuzzy: bool


@functools.lru_cache(maxsize=128)
def prepared(keywords: frozenset[str]) -> tuple[_Keyword, ...]:
    """A keyword list parsed and compiled once (per catalog load, not per message), longest
    first. Compiling one pattern per keyword per message was most of the time spent."""
    weights = dict(parse_keyword(k) for k in keywords if k.strip())
    found = []
    for word in sorted(weights, key=len, reverse=True):
        # Chinese anywhere; English at a word's start (`leak` finds `leaking`).
        pattern = re.escape(word) if _CJK.search(word) else r"(?<![a-z])" + re.escape(word)
        fuzzy = " " not in word and len(word) >= 5 and word.isalpha()
        found.append(_Keyword(word, weights[word], re.compile(pattern), fuzzy))
    return tuple(found)


def _spans(
    text: str, words: list[tuple[int, int, str]], keyword: _Keyword
) -> list[tuple[int, int]]:
    """Where `keyword` occurs in `text`."""
    return [(m.start(), m.end()) for m in keyword.pattern.finditer(text)]


def _fuzzy(
    text: str, words: list[tuple[int, int, str]], keyword: _Keyword
) -> list[tuple[int, int]]:
    """Words one typo away from an English keyword (`compliant`, `leakking`)."""
    if not keyword.fuzzy:
        return []
    word = keyword.word
    return [
        (start, end)
        for start, end, typed in words
        if _one_edit(typed, word)
        or (len(typed) > len(word) and _one_edit(typed[: len(word)], word))
    ]


def _score(text: str, words: list[tuple[int, int, str]], keywords: Collection[str]) -> float:
    # Longest keywords first, and no character counted twice: `可以吗` counts once, not
    # with `可以` and `吗` again; a keyword repeated in the text counts once. Exact
    # matches go before typo matches, so `parcel` is not taken for a typo of `parcels`.
    covered: set[int] = set()
    total = 0.0
    ordered = prepared(frozenset(keywords))
    for factor, find in ((1.0, _spans), (FUZZY_EN, _fuzzy)):
        for keyword in ordered:
            free = [s for s in find(text, words, keyword) if not covered.intersection(range(*s))]
            if free:
                covered.update(range(*free[0]))
                total += factor * keyword.weight
    return total


def scores(text: str, keywords: Mapping[str, Collection[str]]) -> dict[str, float]:
    """Every intent's score for `text`."""
    plain = normalise(text)
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(plain)]
    return {intent: _score(plain, words, listed) for intent, listed in keywords.items()}


def explicit(text: str, verbs: Mapping[str, Collection[str]], at_start: bool = False) -> str | None:
    """The intent asked for in so many words ("我要投诉", "I want to complain"): the one
    whose request phrase comes first; with `at_start`, only one the message opens with."""
    plain = normalise(text).lstrip(" ,.!?，。！？:：")
    found: list[tuple[int, str]] = []
    for intent, listed in verbs.items():
        for verb in listed:
            at = plain.find(normalise(verb)) if verb.strip() else -1
            if at >= 0:
                found.append((at, intent))
    found.sort()
    if not found or (at_start and found[0][0] != 0):
        return None
    return found[0][1]


def decide(
    text: str,
    keywords: Mapping[str, Collection[str]],
    threshold: float = THRESHOLD,
    verbs: Mapping[str, Collection[str]] | None = None,
) -> Decision:
    """The intent asked for outright, else the best score; None when below `threshold` or
    tied. A request phrase beats topic words: "我要投诉维修师傅" is a complaint."""
    ranked = sorted(scores(text, keywords).items(), key=lambda item: -item[1])
    if not ranked:
        return Decision(None, None, 0.0, None, 0.0)
    best, best_score = ranked[0]
    second, second_score = ranked[1] if len(ranked) > 1 else (None, 0.0)
    asked = explicit(text, verbs or {})
    if asked is not None:
        runner = next(((i, v) for i, v in ranked if i != asked), (None, 0.0))
        return Decision(asked, asked, dict(ranked).get(asked, 0.0), *runner)
    sure = best_score >= threshold and best_score > second_score
    return Decision(best if sure else None, best, best_score, second, second_score)


def residue(text: str, fillers: Collection[str]) -> str:
    """What is left of `text` without filler words (`我要`, `报修`, `i want to`) and marks."""
    plain = normalise(text)
    for filler in sorted({normalise(f) for f in fillers if f.strip()}, key=len, reverse=True):
        if _CJK.search(filler):
            plain = plain.replace(filler, " ")
        else:
            plain = re.sub(r"(?<![a-z])" + re.escape(filler) + r"(?![a-z])", " ", plain)
    return "".join(ch for ch in plain if ch.isalnum())
