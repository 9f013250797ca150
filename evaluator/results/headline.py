"""The headline number of a run, computed the way the benchmark it follows computes its published figures.

- ``gedit`` (GEdit-Bench): per language, for the full set and the intersection subset, the mean over the 11 task
  types of each type's mean SC, PQ and O.
- ``imgedit`` (ImgEdit-Bench): each sample's score rounded to 2 decimals, each edit type's mean rounded to 2
  decimals, and the mean over the 9 types.
- ``manifest`` (your own set): the mean over its categories of each category's mean overall score.
- ``risebench`` (RISEBench, judged by its scheme): its accuracy and score, overall and per category, and the rest of
  its CSV (``evaluator.results.risebench``).
- ``geditv2`` (GEditBench v2): its Elo leaderboard of the editors compared (``evaluator.results.geditv2``).

A macro average over fewer types than the protocol has would be a different number, so a type without a scored
sample makes its figure ``None`` (GEdit-Bench's script gives NaN), with ``types`` saying how many counted. Each
figure carries its standard error and a seeded 95% bootstrap interval that resamples samples within each type
(both None where a type has a single sample, whose spread is unknown).
Rows without a score (a missing edit, a failed reply) are left out of the means, as the benchmarks' scripts
leave them out, and counted.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from evaluator.results import geditv2, krisbench, risebench

GEDIT_TYPES = (
    "background_change", "color_alter", "material_alter", "motion_change", "ps_human", "style_change",
    "subject-add", "subject-remove", "subject-replace", "text_change", "tone_transfer",
)  # fmt: skip
IMGEDIT_TYPES = ("add", "adjust", "extract", "replace", "remove", "background", "style", "compose", "action")
PROTOCOL_TYPES = {"gedit": GEDIT_TYPES, "imgedit": IMGEDIT_TYPES}
BOOTSTRAP = 1000
UNCATEGORISED = "(none)"

# A figure's samples: type -> {sample id: value}.
Groups = dict[str, dict[str, float]]


def protocol_of(layout: str, scheme=None) -> str:
    """The protocol a data layout's headline follows; RISEBench's only when its own arithmetic scored the items
    (``scheme``: the run's ``Scheme``), any other scheme on its data gets the macro average over categories."""
    if layout == "risebench":
        return "risebench" if scheme is not None and scheme.overall_combine == "risebench" else "manifest"
    if layout == "krisbench":
        return "krisbench" if scheme is not None and scheme.overall_combine == "krisbench" else "manifest"
    if layout == "geditv2":  # its Elo over the verdicts of each judgement
        return "geditv2"
    return layout if layout in PROTOCOL_TYPES else "manifest"


def figure_groups(rows: Sequence[dict], protocol: str, criteria: Sequence[str]) -> dict[str, Groups]:
    """Every headline figure's scored samples by type, named like ``en/full/O``, ``overall`` or ``macro/score``.

    A sample counts where its overall ``score`` exists, so every criterion of a figure rests on the same samples
    (GEdit-Bench's CSV holds only samples with both SC and PQ).
    """
    scored = [r for r in rows if r.get("score") is not None]
    if protocol == "gedit":
        subsets = {}
        for lang in sorted({str(r.get("language")) for r in rows}, key=lambda x: (x != "en", x != "cn", x)):
            mine = [r for r in scored if str(r.get("language")) == lang]
            subsets[f"{lang}/full"] = mine
            subsets[f"{lang}/intersection"] = [r for r in mine if r.get("intersection")]
        return {f"{name}/{c}": _by_type(rs, c, GEDIT_TYPES) for name, rs in subsets.items() for c in criteria}
    if protocol in ("geditv2", "krisbench"):  # an Elo fit over all pairs; scores pooled over items
        return {}
    if protocol == "risebench":  # one group of every item: the figures are plain means of the items' values
        return {f"Overall/{c}": {"all": values} for c, values in risebench.item_values(rows).items()}
    if protocol == "imgedit":
        groups = _by_type(scored, "score", IMGEDIT_TYPES)
        return {"overall": {t: {i: round(v, 2) for i, v in vs.items()} for t, vs in groups.items()}}
    categories = sorted({_category(r) for r in rows})
    return {f"macro/{criteria[-1]}": _by_type(scored, criteria[-1], categories)}


def _category(row: dict) -> str:
    return UNCATEGORISED if row.get("category") is None else str(row["category"])


def _by_type(rows: Sequence[dict], criterion: str, types: Sequence[str]) -> Groups:
    groups: Groups = {t: {} for t in types}
    for r in rows:
        if _category(r) in groups and r.get(criterion) is not None:
            groups[_category(r)][str(r["id"])] = float(r[criterion])
    return groups


def macro(groups: Groups, protocol: str) -> float | None:
    """The mean over types of each type's mean (ImgEdit-Bench rounds those to 2 decimals); None if a type has
    no samples."""
    if not groups or any(not v for v in groups.values()):
        return None
    means = [statistics.fmean(v.values()) for v in groups.values()]
    if protocol == "imgedit":
        means = [round(m, 2) for m in means]
    return statistics.fmean(means)


def standard_error(groups: Groups) -> float | None:
    """The standard error of the macro average: the types' standard errors combined, over the number of types."""
    if not groups or any(len(v) < 2 for v in groups.values()):
        return None
    variance = sum(statistics.variance(v.values()) / len(v) for v in groups.values())
    return math.sqrt(variance) / len(groups)


def bootstrap_means(groups: Groups, ids: dict[str, list[str]], resamples: int, seed: int) -> np.ndarray:
    """``resamples`` macro averages over the samples ``ids`` of each type, resampled with replacement within each
    type (the same draws for every caller with the same ids and seed, which makes a paired comparison)."""
    rng = np.random.default_rng(seed)
    per_type = []
    for t, members in ids.items():
        values = np.array([groups[t][i] for i in members])
        step = max(1, _DRAWS_AT_ONCE // len(values))  # a large type in chunks, so memory stays bounded
        chunks = [
            values[rng.integers(0, len(values), size=(min(step, resamples - start), len(values)))].mean(axis=1)
            for start in range(0, resamples, step)
        ]
        per_type.append(np.concatenate(chunks))
    return np.mean(per_type, axis=0)


_DRAWS_AT_ONCE = 4_000_000


def interval(draws: np.ndarray) -> list[float]:
    """The central 95% of bootstrap draws."""
    return [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]


def figure(groups: Groups, protocol: str, seed: int = 0) -> dict:
    """One figure: its value, standard error, 95% interval, samples and how many of its types counted."""
    value, se = macro(groups, protocol), standard_error(groups)
    # A type of one sample says nothing of its spread: its interval would have no width, so there is none.
    ids = {t: sorted(v) for t, v in groups.items()}
    ci = interval(bootstrap_means(groups, ids, BOOTSTRAP, seed)) if se is not None else None
    return {
        "value": value,
        "se": se,
        "ci95": ci,
        "n": sum(len(v) for v in groups.values()),
        "types": sum(1 for v in groups.values() if v),
        "types_expected": len(groups),
        "empty_types": [t for t, v in groups.items() if not v],
        "by_type": {t: _type_mean(v, protocol) for t, v in groups.items()},
    }


def _type_mean(values: dict[str, float], protocol: str) -> float | None:
    if not values:
        return None
    mean = statistics.fmean(values.values())
    return round(mean, 2) if protocol == "imgedit" else mean


def headline(rows: Sequence[dict], protocol: str, criteria: Sequence[str], parser: str = "default") -> dict:
    """The ``headline`` block of ``summary.json``; see the module docstring."""
    figures = {name: figure(g, protocol) for name, g in figure_groups(rows, protocol, criteria).items()}
    out: dict = {"protocol": protocol, "criteria": list(criteria) if protocol == "gedit" else [criteria[-1]]}
    if protocol == "gedit":
        by_language: dict = defaultdict(dict)
        for name, f in figures.items():
            lang, subset, criterion = name.rsplit("/", 2)  # a language may hold a "/"
            block = by_language[lang].setdefault(subset, {"types": f["types"], "n": f["n"], "se": {}, "ci95": {}})
            block[criterion], block["se"][criterion], block["ci95"][criterion] = f["value"], f["se"], f["ci95"]
            block.setdefault("by_type", {t: {} for t in f["by_type"]})
            for t, v in f["by_type"].items():
                block["by_type"][t][criterion] = v
        out["by_language"] = dict(by_language)
    else:
        [(name, f)] = figures.items()
        key = "overall" if protocol == "imgedit" else "macro"
        out.update({key: f["value"], "se": f["se"], "ci95": f["ci95"], "n": f["n"], "types": f["types"]})
        out["by_type"] = f["by_type"]
    kept = ("value", "se", "ci95", "n", "types", "empty_types")
    out["figures"] = {name: {k: f[k] for k in kept} for name, f in figures.items()}
    out["types_expected"] = next(iter(figures.values()))["types_expected"] if figures else 0
    out["missing_edits"] = sum(1 for r in rows if r.get("error") == "missing edit")
    out["unscored"] = sum(1 for r in rows if r.get("score") is None) - out["missing_edits"]
    out["unparseable"] = sum(1 for r in rows if r.get("score") is None and "unparseable" in str(r.get("error")))
    known = PROTOCOL_TYPES.get(protocol)
    outside = defaultdict(int)
    for r in rows:
        if known and _category(r) not in known:
            outside[_category(r)] += 1
    out["outside_protocol"] = dict(sorted(outside.items()))
    out["parser"] = parser
    return out


NAMES = {"gedit": "GEdit-Bench", "imgedit": "ImgEdit-Bench", "risebench": "RISEBench", "geditv2": "GEditBench v2",
         "krisbench": "KRIS-Bench",
         "manifest": "macro average over categories"}  # fmt: skip


def headline_rows(h: dict) -> list[tuple[str, dict[str, dict], int, int, list[str]]]:
    """The headline as rows: (subset, its figure per criterion, types counted, samples, types with no sample)."""
    groups: dict[str, dict[str, dict]] = {}
    for name, f in h["figures"].items():
        group, criterion = name.rsplit("/", 1) if "/" in name else (name, h["criteria"][-1])
        groups.setdefault(group, {})[criterion] = f
    rows = []
    for group, figures in groups.items():
        first = next(iter(figures.values()))
        rows.append((group, figures, first["types"], first["n"], first["empty_types"]))
    return rows


def cell(f: dict | None) -> str:
    """A figure as ``value ± standard error [95% interval]``, or a dash."""
    if not f or f["value"] is None:
        return "–"
    ci = f" [{f['ci95'][0]:.3f}, {f['ci95'][1]:.3f}]" if f["ci95"] else ""
    se = f" ± {f['se']:.3f}" if f["se"] is not None else ""
    return f"{f['value']:.3f}{se}{ci}"


def headline_markdown(h: dict, escape=str) -> list[str]:
    """The headline as markdown lines: a row per subset, a column per criterion, then what it leaves out."""
    if h["protocol"] == "risebench":
        return risebench.risebench_markdown(h, escape)
    if h["protocol"] == "geditv2":
        return geditv2.elo_markdown(h, escape)
    if h["protocol"] == "krisbench":
        return krisbench.krisbench_markdown(h, escape)
    criteria = h["criteria"]
    lines = [f"## Headline ({NAMES[h['protocol']]} protocol)", ""]
    lines.append("| subset | " + " | ".join(escape(c) for c in criteria) + " | types | n |")
    lines.append("| --- |" + " ---: |" * (len(criteria) + 2))
    for group, figures, types, n, _ in headline_rows(h):
        cells = " | ".join(cell(figures.get(c)) for c in criteria)
        lines.append(f"| {escape(group)} | {cells} | {types}/{h['types_expected']} | {n} |")
    lines += ["", "Cells: value ± standard error [95% bootstrap interval].", *notes(h, escape)]
    return lines


def notes(h: dict, escape=str) -> list[str]:
    """What the headline cannot say or leaves out, in sentences."""
    lines = [
        f"No headline for {escape(group)}: {len(empty)} of {h['types_expected']} types have no scored sample "
        f"({', '.join(escape(t) for t in empty)}); a mean over the others would be a different number."
        for group, _, _, _, empty in headline_rows(h)
        if empty
    ]
    if h["missing_edits"]:
        lines.append(f"{h['missing_edits']} samples have no edited image; they are left out of the means, as the "
                     "benchmark's script leaves them out.")  # fmt: skip
    if h["unscored"]:
        lines.append(f"{h['unscored']} samples have no score (failures below); they are left out of the means.")
    if h["unparseable"] and h["parser"] == "viescore":
        lines.append(f"{h['unparseable']} samples got a reply that did not parse even when asked again: GEdit-Bench's "
                     "own script would have given them a random score; here they have none.")  # fmt: skip
    if h["outside_protocol"]:
        listed = ", ".join(f"{escape(t)} ({n})" for t, n in h["outside_protocol"].items())
        lines.append(f"Samples of types outside the protocol, not in the headline: {listed}.")
    return lines
