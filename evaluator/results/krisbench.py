"""KRIS-Bench's tables, as its ``summarize.py`` computes them from the ``metrics.json`` of each category, with our
intervals beside.

Its scripts write an item into ``metrics.json`` only once every score it was asked was read; ``summarize.py`` then
normalises each score to 0-100 (``(s - 1) * 25``) and averages per category ("subitems": VC, VQ, IF and, for the
knowledge categories, KP), per task type (each metric pooled over the type's categories, and AVG: every score of the
type pooled, so a knowledge item weighs four scores and another three), per knowledge type (Factual, Conceptual,
Procedural: AVG only) and overall (AVG). Here the same, from the rows with a score (every asked score read); an
interval is a seeded bootstrap over items.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evaluator.scoring.krisbench import normalised

TYPES = {
    "Attribute Perception": ["count_change", "color_change", "size_adjustment", "part_completion",
                             "anomaly_correction"],
    "Spatial Perception": ["viewpoint_change", "position_movement"],
    "Temporal Prediction": ["temporal_prediction"],
    "Social Science": ["humanities", "practical_knowledge"],
    "Natural Science": ["biology", "chemistry", "geography", "medicine", "mathematics", "physics"],
    "Logical Reasoning": ["abstract_reasoning", "rule-based_reasoning"],
    "Instruction Decomposition": ["multi-element_composition", "multi-instruction_execution"],
}  # fmt: skip
WITH_KNOWLEDGE = ("Social Science", "Natural Science", "Logical Reasoning")
META = {
    "Factual Knowledge": ["Attribute Perception", "Spatial Perception", "Temporal Prediction"],
    "Conceptual Knowledge": ["Social Science", "Natural Science"],
    "Procedural Knowledge": ["Logical Reasoning", "Instruction Decomposition"],
}
SHORT = {"consistency_score": "VC", "quality_score": "VQ", "instruction_score": "IF", "knowledge_score": "KP"}
BOOTSTRAP = 1000


def metrics_of(task_type: str) -> list[str]:
    """The scores summarize.py averages for a task type, in its order."""
    base = ["consistency_score", "quality_score", "instruction_score"]
    return [*base, "knowledge_score"] if task_type in WITH_KNOWLEDGE else base


def _values(row: dict, task_type: str) -> list[float]:
    return [normalised(row[m]) for m in metrics_of(task_type) if row.get(m) is not None]


def krisbench_tables(rows: Sequence[dict], seed: int = 0) -> dict:
    """The ``headline`` block of a KRIS-Bench run (``protocol: krisbench``); see the module docstring."""
    category_type = {c: t for t, cs in TYPES.items() for c in cs}
    scored = [r for r in rows if r.get("score") is not None and r.get("category") in category_type]
    by_type = {t: [r for r in scored if category_type[r["category"]] == t] for t in TYPES}
    summary, subitems = {}, {}
    for t, members in by_type.items():
        for c in TYPES[t]:
            mine = [r for r in members if r["category"] == c]
            line = {SHORT[m]: _mean([normalised(r[m]) for r in mine if r.get(m) is not None]) for m in metrics_of(t)}
            if any(v is not None for v in line.values()):
                subitems.setdefault(t, {})[c] = {k: v for k, v in line.items() if v is not None}
        line = {SHORT[m]: _mean([normalised(r[m]) for r in members if r.get(m) is not None]) for m in metrics_of(t)}
        line["AVG"] = _mean([v for r in members for v in _values(r, t)])
        if any(v is not None for v in line.values()):
            summary[t] = {k: v for k, v in line.items() if v is not None}
    groups = {**{m: [r for t in ts for r in by_type[t]] for m, ts in META.items()}, "Overall": scored}
    for name, members in groups.items():
        avg = _mean([v for r in members for v in _values(r, category_type[r["category"]])])
        if avg is not None:
            summary[name] = {"AVG": avg}
    figures = {f"{name}/AVG": _figure(members, category_type, seed) for name, members in {**by_type, **groups}.items()}
    outside: dict[str, int] = {}
    for r in rows:
        if r.get("category") not in category_type:
            outside[str(r.get("category"))] = outside.get(str(r.get("category")), 0) + 1
    return {
        "protocol": "krisbench",
        "criteria": ["AVG"],
        "figures": figures,
        "types_expected": 1,
        "table": {"summary": summary, "subitems": subitems},
        "n": len(scored),
        "missing_edits": sum(1 for r in rows if r.get("error") == "missing edit"),
        "unscored": sum(1 for r in rows if r.get("score") is None and r.get("error") != "missing edit"),
        "unparseable": sum(1 for r in rows if "unparseable" in str(r.get("error"))),
        "parser": "krisbench",
        "outside_protocol": dict(sorted(outside.items())),
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _figure(rows: Sequence[dict], category_type: dict, seed: int) -> dict:
    """A pooled average with its bootstrap standard error and 95% interval, items resampled (None under 2)."""
    sums = np.array([sum(_values(r, category_type[r["category"]])) for r in rows], dtype=float)
    counts = np.array([len(_values(r, category_type[r["category"]])) for r in rows], dtype=float)
    value = float(sums.sum() / counts.sum()) if counts.sum() else None
    se = ci = None
    if len(rows) > 1:
        picks = np.random.default_rng(seed).integers(0, len(rows), size=(BOOTSTRAP, len(rows)))
        means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
        se, ci = float(means.std(ddof=1)), [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]
    return {"value": value, "se": se, "ci95": ci, "n": len(rows), "types": int(bool(len(rows))),
            "empty_types": [] if len(rows) else ["all"]}  # fmt: skip


def _cell(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def krisbench_markdown(h: dict, escape=str) -> list[str]:
    """The tables as markdown: each task type's scores, the knowledge types and the overall average with
    intervals, then each category's scores (all on 0-100)."""
    summary, names = h["table"]["summary"], ["VC", "VQ", "IF", "KP", "AVG"]
    lines = ["## Headline (KRIS-Bench protocol, 0-100)", "", "| | " + " | ".join(names) + " | 95% interval (AVG) | n |",
             "| --- |" + " ---: |" * (len(names) + 2)]  # fmt: skip
    for name in (*TYPES, *META, "Overall"):
        if name in summary:
            f = h["figures"][f"{name}/AVG"]
            ci = "–" if f["ci95"] is None else f"[{f['ci95'][0]:.2f}, {f['ci95'][1]:.2f}]"
            cells = " | ".join(_cell(summary[name].get(k)) for k in names)
            lines.append(f"| {escape(name)} | {cells} | {ci} | {f['n']} |")
    lines += ["", "Per category:", "", "| type | category | VC | VQ | IF | KP |", "| --- | --- |" + " ---: |" * 4]
    for t, cats in h["table"]["subitems"].items():
        for c, line in cats.items():
            lines.append(f"| {escape(t)} | {escape(c)} | " + " | ".join(_cell(line.get(k)) for k in names[:4]) + " |")
    if h["missing_edits"]:
        lines.append(f"\n{h['missing_edits']} items have no output image: out of every average, as its scripts skip "
                     "them.")  # fmt: skip
    if h["unscored"]:
        lines.append(f"\n{h['unscored']} items lack a score (failures below): out of every average, as its "
                     "metrics.json leaves out an item with a score missing.")  # fmt: skip
    return lines
