"""Reading a score out of a judge's reply, or saying plainly that there is none.

The policy is strict first, tolerant after, and never inventive: a JSON object with a ``score`` key; then a
``score: 7`` or ``score = 7/10`` pair; then a lone ``7/10``; then the reply's only number. A reply with no
score, several conflicting ones, or one outside the scale gets ``score=None`` and an error; its text is kept.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass

UNPARSEABLE = "unparseable"
THINKING_CUT = "thinking cut short by the token limit (raise judge.max_new_tokens)"
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_MAX_OBJECTS = 100  # JSON objects tried per reply

NUMBER_PATTERN = r"-?\d+(?:\.\d+)?"
# Quotes and markdown emphasis may wrap the key or the value: "score": 7, **Score:** 7, score = '7'.
_KEY_VALUE = re.compile(rf"\bscore\b[\"'*_]*\s*[:=]\s*[\"'*_]*\s*({NUMBER_PATTERN})(?:\s*/\s*(\d+))?", re.IGNORECASE)
_FRACTION = re.compile(rf"(?<![\d.])({NUMBER_PATTERN})\s*/\s*(\d+)(?![\d.])")
_ANY_NUMBER = re.compile(rf"(?<![\w.])({NUMBER_PATTERN})(?!\w|\.\d)")


@dataclass(frozen=True)
class Parsed:
    """A parsed reply: ``score`` is None exactly when ``error`` says why."""

    score: float | None
    error: str | None = None


@dataclass(frozen=True)
class Thought:
    """A reply split at its thinking trace (Qwen3-VL Thinking's ``<think>...</think>``): the ``trace`` (None: the
    reply has none), the ``answer`` after it, and whether the trace was ``cut`` (never closed: the token limit
    ended the reply inside it, so there is no answer)."""

    trace: str | None
    answer: str
    cut: bool = False


def split_thinking(reply: str) -> Thought:
    """The trace and the answer of a reply. The answer is what follows the last ``</think>`` (the opening tag may
    be missing: a Thinking model's chat template writes it into the prompt); a ``<think>`` never closed is a trace
    cut short; a reply without either tag is all answer. Scores are read from the answer only, so a score the
    trace tries out is never taken for the verdict."""
    if _THINK_CLOSE in reply:
        trace, answer = reply.rsplit(_THINK_CLOSE, 1)
        return Thought(trace.replace(_THINK_OPEN, "", 1).strip(), answer.strip())
    if reply.lstrip().startswith(_THINK_OPEN):
        return Thought(reply.lstrip()[len(_THINK_OPEN) :].strip(), "", cut=True)
    return Thought(None, reply)


def parse_score(reply: str, low: float = 0, high: float = 10, key: str = "score") -> Parsed:
    """Extract the score on the scale ``[low, high]`` from a judge's reply.

    Args:
        reply: the judge's generated text.
        low: the scale's lowest score.
        high: the scale's highest score; also the only denominator accepted in ``N/high``.
        key: the JSON key (and ``key: value`` label) that holds the score.

    Returns:
        ``Parsed(score, None)`` on success, else ``Parsed(None, error)`` with ``error`` either
        ``"unparseable"`` or ``"out of range: X"``.
    """
    for found in (_from_json(reply, key), _from_key_value(reply, key, high), _from_fraction(reply, high)):
        if found is not None:
            return in_range(found, low, high)
    numbers = {float(m) for m in _ANY_NUMBER.findall(reply)}
    if len(numbers) == 1:
        return in_range(numbers.pop(), low, high)
    return Parsed(None, UNPARSEABLE)


def parse_scores(reply: str, keys: tuple[str, ...], low: float = 0, high: float = 10) -> dict[str, Parsed]:
    """Extract several named scores from one reply.

    With one key this is ``parse_score``. With several, only labelled scores count (a JSON object's keys, or
    ``key: value`` pairs), plus VIEScore's own form ``{"score": [a, b]}`` holding them in order; the
    unlabelled fallbacks could not tell the scores apart.
    """
    if len(keys) == 1:
        return {keys[0]: parse_score(reply, low, high, key=keys[0])}
    listed = _from_json(reply, "score", allow_list=True)
    out = {}
    for i, key in enumerate(keys):
        value = _from_json(reply, key)
        if value is None and isinstance(listed, list) and len(listed) == len(keys):
            value = listed[i]
        if value is None:
            value = _from_key_value(reply, key, high)
        out[key] = Parsed(None, UNPARSEABLE) if value is None else in_range(value, low, high)
    return out


def parse_labels(reply: str, keys: tuple[str, ...], labels: dict[str, float]) -> dict[str, Parsed]:
    """Verdicts in words (``{"winner": "A"}``, or ``winner: tie``), each key's word read as its value in
    ``labels``; a word that is no label, or conflicting words, is no verdict."""
    by_word = {w.strip().lower(): v for w, v in labels.items()}
    return {key: _label(reply, key, by_word) for key in keys}


def _label(reply: str, key: str, by_word: dict[str, float]) -> Parsed:
    decoder = json.JSONDecoder()
    for start in itertools.islice((m.start() for m in re.finditer(r"\{", reply)), _MAX_OBJECTS):
        try:
            obj, _ = decoder.raw_decode(reply, start)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and isinstance(obj.get(key), str):
            word = obj[key].strip().lower()
            return Parsed(by_word[word]) if word in by_word else Parsed(None, UNPARSEABLE)
    words = "|".join(re.escape(w) for w in sorted(by_word, key=len, reverse=True))
    pattern = rf"\b{re.escape(key)}\b[\"'*_]*\s*[:=]\s*[\"'*_]*\s*({words})(?![\w])"
    found = {by_word[m.lower()] for m in re.findall(pattern, reply, flags=re.IGNORECASE)}
    return Parsed(found.pop()) if len(found) == 1 else Parsed(None, UNPARSEABLE)


def in_range(value: float, low: float, high: float) -> Parsed:
    """``value`` as a score if it lies on the scale ``[low, high]``, else an "out of range" error."""
    if low <= value <= high:
        return Parsed(value)
    return Parsed(None, f"out of range: {value:g}")


def as_number(value) -> float | None:
    """A finite number, or None: JSON's ``NaN`` and ``Infinity`` (which Python reads) and integers too large for a
    float are no score."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(NUMBER_PATTERN, value.strip())):
            number = float(value)
        else:
            return None
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _from_json(reply: str, key: str, allow_list: bool = False):
    """The ``key`` value of the first JSON object in the reply that has one (code fences allowed).

    With ``allow_list``, a list of numbers is returned as a list (None if any item is not a number).
    """
    decoder = json.JSONDecoder()
    # The first objects only: a reply of a million braces would otherwise cost a million decodes.
    for start in itertools.islice((m.start() for m in re.finditer(r"\{", reply)), _MAX_OBJECTS):
        try:
            obj, _ = decoder.raw_decode(reply, start)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's stack
            continue
        if isinstance(obj, dict) and key in obj:
            value = obj[key]
            if allow_list and isinstance(value, list):
                numbers = [as_number(v) for v in value]
                return None if None in numbers else numbers
            return as_number(value)
    return None


def _unique(values: list[float]) -> float | None:
    """The value if all agree, else None: conflicting scores are no score."""
    return values[0] if values and len(set(values)) == 1 else None


def _from_key_value(reply: str, key: str, high: float) -> float | None:
    pattern = _KEY_VALUE if key == "score" else re.compile(_KEY_VALUE.pattern.replace("score", re.escape(key), 1), re.I)
    values = [float(v) for v, denom in pattern.findall(reply) if not denom or float(denom) == high]
    return _unique(values)


def _from_fraction(reply: str, high: float) -> float | None:
    return _unique([float(v) for v, denom in _FRACTION.findall(reply) if float(denom) == high])
