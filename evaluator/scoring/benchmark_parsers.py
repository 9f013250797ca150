"""The benchmarks' own reading of a judge's reply, for their official schemes (``judge.parser``): as their scripts
read it, except that a reply they would fill with a guess (a random score, a repaired JSON, any digit) is an error
row here.
"""

from __future__ import annotations

import ast
import json
import re

from evaluator.scoring.parsing import NUMBER_PATTERN, UNPARSEABLE, Parsed, as_number

_VIESCORE_DELIMITER = "||V^=^V||"
_BARE_LIST = re.compile(rf"\[\s*({NUMBER_PATTERN})\s*,\s*({NUMBER_PATTERN})\s*\]")


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
    numbers = [as_number(v) for v in listed] if isinstance(listed, list) else []
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


# KRIS-Bench's metrics_*.py: the first {...} holding the key (no nested braces) read as JSON, else "<what> score: n",
# "n/5" or "n out of 5" (its last resort, any digit 1-5 anywhere in the reply, is a guess and not taken here).
_KRIS_FALLBACKS = (r"([1-5])\s*/\s*5", r"([1-5])\s+out\s+of\s+5")


def krisbench_value(reply: str, key: str, fractions: bool = True) -> Parsed | None:
    """The ``key`` score of a KRIS-Bench reply as its scripts read it (see ``parse_krisbench``), the "n/5" forms
    only with ``fractions``; None: none read."""
    match = re.search(r"\{[^{}]*" + re.escape(key) + r"[^{}]*\}", reply, re.DOTALL)
    try:
        value = json.loads(match.group(0)).get(key) if match else None
    except (ValueError, AttributeError, RecursionError):
        value = None
    if value is not None:
        number = as_number(value)
        if number is None or number != int(number):  # its int() would cut 4.5 to 4, or stop on "four"
            return Parsed(None, f"{key} is {value!r}, no whole number")
        return Parsed(number)
    prefix = re.escape(key.removesuffix("_score")) + r"[_\s]*score\"?\s*[:：]?\s*([1-5])"  # "x_score": n too
    for pattern in (prefix, *(_KRIS_FALLBACKS if fractions else ())):
        if m := re.search(pattern, reply, re.IGNORECASE | re.DOTALL):
            return Parsed(float(m.group(1)))
    return None


def parse_krisbench(reply: str, keys: tuple[str, ...]) -> dict[str, Parsed]:
    """KRIS-Bench: each key's score (``consistency_score``, ``instruction_score``, ``quality_score``, and with the
    knowledge prompt ``knowledge_score`` from the same reply), from JSON first, then its keyed and "n/5" patterns. Its
    fallback to any standalone digit 1-5 is no reading of a score ("Step 1 ..." would give 1): no score here. The
    knowledge reply's two scores are read from JSON or their keyed form only, as its script reads them."""
    out = {}
    for key in keys:
        found = krisbench_value(reply, key, fractions=len(keys) == 1)
        out[key] = found if found is not None else Parsed(None, UNPARSEABLE)
    return out


OFFICIAL_PARSERS = {"viescore": parse_viescore, "imgedit": parse_imgedit, "risebench": parse_risebench,
                    "geditv2": parse_geditv2}  # fmt: skip
KEYED_PARSERS = {"editscore": parse_editscore, "krisbench": parse_krisbench}  # a score per key of the judgement
