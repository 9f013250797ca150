"""Reading a score out of a judge's reply, or saying plainly that there is none.

The policy is strict first, tolerant after, and never inventive: a JSON object with a ``score`` key; then a
``score: 7`` or ``score = 7/10`` pair; then a lone ``7/10``; then the reply's only number. A reply with no
score, several conflicting ones, or one outside the scale gets ``score=None`` and an error; its text is kept.
"""

from __future__ import annotations

import ast
import itertools
import json
import math
import re
from dataclasses import dataclass

UNPARSEABLE = "unparseable"
THINKING_CUT = "thinking cut short by the token limit (raise judge.max_new_tokens)"
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_MAX_OBJECTS = 100  # JSON objects tried per reply

_NUMBER = r"-?\d+(?:\.\d+)?"
# Quotes and markdown emphasis may wrap the key or the value: "score": 7, **Score:** 7, score = '7'.
_KEY_VALUE = re.compile(rf"\bscore\b[\"'*_]*\s*[:=]\s*[\"'*_]*\s*({_NUMBER})(?:\s*/\s*(\d+))?", re.IGNORECASE)
_FRACTION = re.compile(rf"(?<![\d.])({_NUMBER})\s*/\s*(\d+)(?![\d.])")
_ANY_NUMBER = re.compile(rf"(?<![\w.])({_NUMBER})(?!\w|\.\d)")


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


def _number(value) -> float | None:
    """A finite number, or None: JSON's ``NaN`` and ``Infinity`` (which Python reads) and integers too large for a
    float are no score."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(_NUMBER, value.strip())):
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
                numbers = [_number(v) for v in value]
                return None if None in numbers else numbers
            return _number(value)
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


# The benchmarks' own reading of a reply, for their official schemes: as their scripts do, except that a reply
# that does not parse is an error, never a random score.
_VIESCORE_DELIMITER = "||V^=^V||"
_BARE_LIST = re.compile(rf"\[\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\]")


def viescore_list(reply: str) -> list[float] | None:
    """VIEScore's reading (GEdit-Bench, EditScore): the JSON between two ``||V^=^V||`` delimiters, else the
    outermost ``{...}``, else a bare ``[a, b]``; its ``score`` list, or None where there is none or an item is no
    number. No range check here, as in the benchmarks (``rows.parse_reply`` adds one)."""
    parts = reply.split(_VIESCORE_DELIMITER)
    text = parts[1] if len(parts) >= 3 else reply
    start, end = text.find("{"), text.rfind("}")
    listed = None
    if 0 <= start < end:
        try:
            obj = json.loads(text[start : end + 1])
            listed = obj.get("score") if isinstance(obj, dict) else None
        except (ValueError, RecursionError):
            listed = None
    if listed is None and (m := _BARE_LIST.search(text)):
        listed = [m.group(1), m.group(2)]
    numbers = [_number(v) for v in listed] if isinstance(listed, list) else []
    return None if not numbers or None in numbers else numbers


def parse_viescore(reply: str) -> Parsed:
    """VIEScore (GEdit-Bench): the minimum of the reply's ``score`` list (``viescore_list``)."""
    numbers = viescore_list(reply)
    return Parsed(min(numbers)) if numbers else Parsed(None, UNPARSEABLE)


def parse_editscore(reply: str, keys: tuple[str, ...]) -> dict[str, Parsed]:
    """EditScore: the reply's ``score`` list read as VIEScore reads it, its items in the order of the judgement's
    keys (SC: prompt following, consistency); a list of another length is no score (EditScore's own scorer would
    fail on a short one, or use its minimum)."""
    numbers = viescore_list(reply)
    if numbers is None:
        return {k: Parsed(None, UNPARSEABLE) for k in keys}
    if len(numbers) != len(keys):
        return {k: Parsed(None, f"{len(numbers)} scores for {len(keys)}") for k in keys}
    return {k: Parsed(v) for k, v in zip(keys, numbers, strict=True)}


def parse_imgedit(reply: str) -> Parsed:
    """ImgEdit-Bench: the mean of the integers on lines of the form ``<text>: <integer>``, rounded to 2 decimals
    as its ``step1`` script rounds."""
    scores = []
    for line in reply.splitlines():
        parts = line.strip().split(": ")
        if len(parts) == 2 and parts[1].isdigit() and parts[1].isascii():
            scores.append(int(parts[1]))
    return Parsed(round(sum(scores) / len(scores), 2)) if scores else Parsed(None, UNPARSEABLE)


# RISEBench's gpt_eval.py: the digits after "Final Score" (markdown stars, a colon, spaces, commas, newlines between).
_FINAL_SCORE = re.compile(r"\*?\*?Final Score\*?\*?:?\s*([\d*\s,\n]*)", re.IGNORECASE)
_FINAL_SCORES = re.compile(r"\*?\*?Final Scores\*?\*?:?\s*([\d*\s,\n]*)", re.IGNORECASE)


def risebench_numbers(reply: str) -> list[int] | None:
    """RISEBench's ``extract``: the integers of the first "Final Score" whose run holds any, else of the first
    "Final Scores" whose run holds any (an empty list if none does), else None."""
    for pattern in (_FINAL_SCORE, _FINAL_SCORES):
        matches = pattern.findall(reply)
        numbers = next(([int(n) for n in found] for m in matches if (found := re.findall(r"\d+", m))), [])
        if numbers or (pattern is _FINAL_SCORES and matches):
            return numbers
    return None


def parse_risebench(reply: str) -> Parsed:
    """RISEBench: the one integer its ``extract`` reads. None read is no score; several (``Final Score: 4, 5``)
    neither: its script would shift the item's dimensions or stop."""
    numbers = risebench_numbers(reply)
    if not numbers:
        return Parsed(None, UNPARSEABLE)
    if len(numbers) > 1:
        return Parsed(None, f"{len(numbers)} numbers after Final Score where one is asked")
    return Parsed(float(numbers[0]))


# GEditBench v2's judge client: a ```json block, else any ``` block, else the first balanced {...}; its "winner".
_FENCED_JSON = re.compile(r"```json\s*(.*?)\s*```", re.DOTALL)
_FENCED = re.compile(r"```\s*(.*?)\s*```", re.DOTALL)
GEDITV2_WINNERS = {"image_a": 1.0, "image a": 1.0, "a": 1.0, "image_b": 0.0, "image b": 0.0, "b": 0.0,
                   "tie": 0.5, "equal": 0.5, "both": 0.5, "none": 0.5}  # fmt: skip


def json_block(reply: str) -> str | None:
    """The text GEditBench v2's client parses as JSON: a fenced block, else the first balanced ``{...}``."""
    for fence in (_FENCED_JSON, _FENCED):
        if m := fence.search(reply):
            return m.group(1).strip()
    start = reply.find("{")
    depth = 0
    for i in range(max(start, 0), len(reply) if start >= 0 else 0):
        depth += {"{": 1, "}": -1}.get(reply[i], 0)
        if depth == 0:
            return reply[start : i + 1]
    return None


def parse_geditv2(reply: str) -> Parsed:
    """GEditBench v2: the ``winner`` of the reply's JSON, its spellings read as its judge reads them (``Image A``,
    ``a``; ``Tie``, ``equal``, ``both``, ``none``): 1 for Image A, 0 for Image B, 0.5 for a tie. Its client repairs
    broken JSON first (json_repair); here only JSON, or a Python dict literal, is read: a repair would be a guess."""
    block = json_block(reply)
    obj = None
    for read in (json.loads, ast.literal_eval):
        try:
            obj = read(block) if block else None
            break
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    winner = obj.get("winner") if isinstance(obj, dict) else None
    if not isinstance(winner, str) or winner.lower() not in GEDITV2_WINNERS:
        return Parsed(None, UNPARSEABLE)
    return Parsed(GEDITV2_WINNERS[winner.lower()])


OFFICIAL_PARSERS = {"viescore": parse_viescore, "imgedit": parse_imgedit, "risebench": parse_risebench,
                    "geditv2": parse_geditv2}  # fmt: skip
KEYED_PARSERS = {"editscore": parse_editscore}  # a score per key of the judgement
