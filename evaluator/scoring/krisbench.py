"""KRIS-Bench's arithmetic: one item's scores, and the version of its scripts the tables follow.

Each item is asked three judgements (a knowledge item's instruction judgement also scores knowledge plausibility);
its row keeps the four scores on the judge's 1-5 scale as the scripts write them into ``metrics.json``, and its own
``score``, the mean of those it was asked. The benchmark's tables (``evaluator.results.krisbench``) pool the scores
normalised to 0-100, as its ``summarize.py`` does.
"""

from __future__ import annotations

from collections.abc import Mapping

KEYS = ("consistency_score", "instruction_score", "quality_score", "knowledge_score")
# The judgements of judge=krisbench_official and the keys each one's reply holds.
JUDGEMENT_KEYS = {
    "consistency_score": ("consistency_score",),
    "instruction_score": ("instruction_score",),
    "dual_evaluation": ("instruction_score", "knowledge_score"),
    "quality_score": ("quality_score",),
}
PROTOCOL = {
    "benchmark": "KRIS-Bench",
    "scripts": "mercurystraw/Kris_Bench's metrics_*.py and summarize.py as ByteDance-Seed/Bagel ships them in "
    "eval/gen/kris (commit a53eea0, 2025-06-15)",
    "normalisation": "(score - 1) * 25",
    "averages": "every score of a group pooled (AVG); an item's unread score is left out",
    "judge": "gpt-4o-2024-11-20, max_tokens 1000, no temperature set",
}


def asked_keys(item: Mapping) -> list[str]:
    """The score keys the item's judgements hold, in ``KEYS`` order."""
    variants = item.get("variants") or {}
    asked = {k for j, v in variants.items() if v is not None for k in JUDGEMENT_KEYS.get(j, ())}
    return [k for k in KEYS if k in asked]


def kris_item_criteria(item: Mapping, scores: Mapping[str, float | None]) -> dict[str, float | None]:
    """The item's four scores (None where not asked or not read) and its ``score``: the mean of the asked ones,
    None unless every one was read."""
    asked = asked_keys(item)
    out = {k: scores.get(k) if k in asked else None for k in KEYS}
    values = [out[k] for k in asked]
    score = round(sum(values) / len(values), 6) if values and None not in values else None
    return {**out, "score": score}


def normalised(score: float) -> float:
    """A 1-5 score on summarize.py's 0-100 scale."""
    return (score - 1) * 25
