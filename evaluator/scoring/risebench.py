"""RISEBench's arithmetic for one item, as its ``gpt_eval.py`` computes it from the judge's three answers.

Its layout (``evaluator.inputs.risebench``) says per item which judgements are asked (``variants``) and how its
score weighs them (``score_weights``), both as the script decides them. Here: the logical items' 0/1 answers
mapped to 1 or 5 (``4 * min(s, 1) + 1``), the weighted score, halved (to at least 1) where Reasoning is 1, and
whether the item is complete: every judgement asked of it at 5, the benchmark's "Accuracy".
"""

from __future__ import annotations

from collections.abc import Mapping

DIMENSIONS = ("ApprConsistency", "Reasoning", "VisualPlausibility")
LOGICAL = "logical_reasoning"
STANDARD_WEIGHTS = {"ApprConsistency": 0.3, "Reasoning": 0.5, "VisualPlausibility": 0.2}
FREE_WEIGHTS = {"VisualPlausibility": 0.2, "Reasoning": 0.8}  # consistency-free (by calculate_score's test)
LOGICAL_WEIGHTS = {"ApprConsistency": 0.3, "Reasoning": 0.7}
# Which version of its script this follows, for summary.json: the one whose completion lets a consistency-free item
# be complete on reasoning and plausibility alone (before it, such an item never was; its README of 2026-04-23 says
# every published result was computed again).
PROTOCOL = {
    "benchmark": "RISEBench",
    "script": "gpt_eval.py of commit ce8cba3 (2026-04-13)",
    "weights": {"standard": STANDARD_WEIGHTS, "consistency_free": FREE_WEIGHTS, "logical": LOGICAL_WEIGHTS},
    "reasoning_1": "score halved, at least 1",
    "logical_answers": "0/1 mapped to 4 * min(s, 1) + 1",
    "complete": "every asked judgement at 5",
    "image_max_side": 768,
}
# Why an item whose answers were all read has no score: its data's consistency_free is set but false, so the
# script does not ask for consistency (its test: the field is not empty) yet weighs it (its test: the field is true).
UNDEFINED = "no score under RISEBench's rule: consistency is weighed but not asked (consistency_free is false)"


def item_criteria(item: Mapping, scores: Mapping[str, float | None]) -> dict[str, float | None]:
    """The item's three dimensions (a logical item's mapped to 1-5) and its weighted ``score``; the score is None
    where an asked judgement has no score, or a weighed one was not asked."""
    dims = {d: scores.get(d) for d in DIMENSIONS}
    if item.get("category") == LOGICAL:  # its prompts ask 0 or 1
        dims = {d: None if v is None else float(4 * min(v, 1) + 1) for d, v in dims.items()}
    if not answered(item, dims):
        return {**dims, "score": None}
    weights = item.get("score_weights") or {}
    if not weights or any(dims.get(d) is None for d in weights):
        return {**dims, "score": None}
    score = sum(w * dims[d] for d, w in weights.items())
    if dims["Reasoning"] == 1:
        score = max(score * 0.5, 1)
    return {**dims, "score": round(float(score), 6)}


def answered(item: Mapping, row: Mapping) -> bool:
    """Whether every judgement asked of the item has a score in ``row`` (the script keeps an item's dimensions
    only then)."""
    asked = [d for d, v in (item.get("variants") or {}).items() if v is not None]
    return bool(asked) and all(row.get(d) is not None for d in asked)


def complete(item: Mapping, row: Mapping) -> int:
    """1 where every judgement asked of the item scored 5 (after the logical mapping), else 0 (an item without
    every answer too)."""
    asked = [d for d, v in (item.get("variants") or {}).items() if v is not None]
    return int(answered(item, row) and all(row[d] == 5 for d in asked))
