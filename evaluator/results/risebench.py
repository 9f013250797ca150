"""RISEBench's tables, as its ``gpt_eval.py`` computes them from its judged items, with our intervals beside.

Its CSV has a line per figure, each with "Score-Origin" (the mean 1-5 score), "Score-Percentage" (``25 * (s - 1)``)
and "Accuracy" (the share of complete items): the overall and each category's weighted score and accuracy, then each
dimension's mean overall and per category, then each subtask's score and accuracy. Means leave out items without
the value (NaN in its table); accuracy counts every item, an item without every answer as incomplete. An item whose
edit is missing stops its script; here it counts as incomplete, and the summary says how many there were.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np

from evaluator.scoring.risebench import DIMENSIONS, answered, complete

CATEGORIES = {"Temporal": "temporal_reasoning", "Causal": "causal_reasoning", "Spatial": "spatial_reasoning",
              "Logical": "logical_reasoning"}  # fmt: skip
# Its tables' names for the dimensions, per category (a logical item has no plausibility).
DIMENSION_NAMES = {"Reasoning": "Reasoning", "ApprConsistency": "Consistency", "VisualPlausibility": "Quality"}
# Its subtask table: the subtasks it knows, in its order, under its prefixes; any other subtask is left out.
SUBTASKS = {
    "Temp": ["Life Progression", "Material Progression", "Environmental Cycles", "Societal Transformation"],
    "Causal": ["Structural Deformation", "State Transition", "Chemical and Biological Transformation",
               "Physics Manifestation"],
    "Spa": ["Component Assembly", "Object Arrangement", "Viewpoint Generation", "Structural Inference",
            "Layout Reasoning"],
    "Logic": ["Pattern Prediction", "Mathematical Derivation", "Puzzle Solving"],
}  # fmt: skip
BOOTSTRAP = 1000


def percent(score: float | None) -> float | None:
    """Its "Score-Percentage": the 1-5 score on 0-100."""
    return None if score is None else 25 * (score - 1)


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else None


def _dimensions(row: dict) -> dict[str, float | None]:
    """An item's dimensions as its table holds them: all NaN unless every asked judgement was read."""
    ok = answered(row, row)
    return {d: row.get(d) if ok else None for d in DIMENSIONS}


def _line(rows: Sequence[dict], with_accuracy: bool = True) -> dict:
    score = _mean([r.get("score") for r in rows])
    accuracy = statistics.fmean([complete(r, r) for r in rows]) if with_accuracy and rows else None
    return {"score": score, "percent": percent(score), "accuracy": accuracy}


def risebench_tables(rows: Sequence[dict], seed: int = 0) -> dict:
    """The ``headline`` block of a RISEBench run (``protocol: risebench``); see the module docstring."""
    known = [r for r in rows if r.get("category") in CATEGORIES.values()]
    by_category = {name: [r for r in known if r["category"] == c] for name, c in CATEGORIES.items()}
    table = {"Overall": _line(known), **{name: _line(rs) for name, rs in by_category.items()}}
    dims = [_dimensions(r) for r in known]
    table["Overall_Reasoning"] = _dimension_line([d["Reasoning"] for d in dims])
    table["Overall_ApprConsistency"] = _dimension_line([d["ApprConsistency"] for d in dims])
    table["Overall_VisualPlausibility_total"] = _dimension_line([d["VisualPlausibility"] for d in dims])
    for name, rs in by_category.items():
        for dim, short in DIMENSION_NAMES.items():
            if not (name == "Logical" and dim == "VisualPlausibility"):
                table[f"{name}_{short}"] = _dimension_line([_dimensions(r)[dim] for r in rs])
    for prefix, subtasks in SUBTASKS.items():
        for subtask in subtasks:
            members = [r for r in known if r.get("subtask") == subtask]
            if members:
                table[f"{prefix}-{subtask}"] = _line(members)
    missing = sum(1 for r in rows if r.get("error") == "missing edit")
    outside: dict[str, int] = {}
    for r in rows:
        if r.get("category") not in CATEGORIES.values():
            outside[str(r.get("category"))] = outside.get(str(r.get("category")), 0) + 1
    groups = {"Overall": known, **by_category}
    figures = {f"{name}/{c}": f for name, rs in groups.items() for c, f in _figures(rs, seed).items()}
    listed = {s for subtasks in SUBTASKS.values() for s in subtasks}
    return {
        "protocol": "risebench",
        "criteria": ["accuracy", "score"],
        "figures": figures,
        "types_expected": 1,
        "table": table,
        "n": len(known),
        "missing_edits": missing,
        "unscored": sum(1 for r in known if r.get("score") is None) - missing,
        "unparseable": sum(1 for r in known if r.get("score") is None and "unparseable" in str(r.get("error"))),
        "parser": "risebench",
        "outside_protocol": dict(sorted(outside.items())),
        "subtasks_left_out": sorted({str(r["subtask"]) for r in known if r.get("subtask") not in listed | {None}}),
    }


def item_values(rows: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Each item's part in the headline figures, by id: ``accuracy`` (1 if complete, every item) and ``score``
    (items with one): the figures are their means, so two runs compare item by item."""
    return {
        "accuracy": {str(r["id"]): float(complete(r, r)) for r in rows},
        "score": {str(r["id"]): float(r["score"]) for r in rows if r.get("score") is not None},
    }


def _figures(rows: Sequence[dict], seed: int) -> dict[str, dict]:
    """The accuracy and the mean score of ``rows``, each with its standard error and seeded 95% bootstrap interval
    (items resampled; None under 2 items)."""
    out = {}
    for criterion, values in item_values(rows).items():
        xs = np.array(list(values.values()), dtype=float)
        se = float(xs.std(ddof=1) / np.sqrt(len(xs))) if len(xs) > 1 else None
        ci = None
        if len(xs) > 1:
            means = xs[np.random.default_rng(seed).integers(0, len(xs), size=(BOOTSTRAP, len(xs)))].mean(axis=1)
            ci = [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]
        value = float(xs.mean()) if len(xs) else None
        out[criterion] = {"value": value, "se": se, "ci95": ci, "n": len(xs), "types": int(bool(len(xs))),
                          "empty_types": [] if len(xs) else ["all"]}  # fmt: skip
    return out


def _dimension_line(values: Sequence[float | None]) -> dict:
    mean = _mean(values)
    return {"score": mean, "percent": percent(mean), "accuracy": None}


def _interval(h: dict, name: str) -> str:
    ci = h["figures"][name]["ci95"]
    return "–" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _cell(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def risebench_markdown(h: dict, escape=str) -> list[str]:
    """The tables as markdown: the headline lines with intervals, then every line of its CSV."""
    lines = ["## Headline (RISEBench protocol)", ""]
    lines += ["| | Accuracy | 95% interval | Score (1-5) | 95% interval | Score (%) |", "| --- |" + " ---: |" * 5]
    for name in ("Overall", *CATEGORIES):
        t, acc, sc = h["table"][name], _interval(h, f"{name}/accuracy"), _interval(h, f"{name}/score")
        lines.append(f"| {name} | {_cell(t['accuracy'])} | {acc} | {_cell(t['score'])} | {sc} | "
                     f"{_cell(t['percent'], 1)} |")  # fmt: skip
    lines += ["", "Every figure of its CSV:", "", "| - | Score-Origin | Score-Percentage | Accuracy |",
              "| --- | ---: | ---: | ---: |"]  # fmt: skip
    for name, t in h["table"].items():
        lines.append(f"| {escape(name)} | {_cell(t['score'])} | {_cell(t['percent'], 1)} | {_cell(t['accuracy'])} |")
    if h["missing_edits"]:
        lines.append(f"\n{h['missing_edits']} items have no output image: they count as incomplete (RISEBench's "
                     "script stops on them).")  # fmt: skip
    if h["unscored"]:
        lines.append(f"\n{h['unscored']} items have no score (failures below): incomplete, and out of the means.")
    if h["subtasks_left_out"]:
        listed = ", ".join(escape(s) for s in h["subtasks_left_out"])
        lines.append(f"\nSubtasks its table does not list, left out of it as it leaves them out: {listed}.")
    return lines
