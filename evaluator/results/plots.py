"""PNG charts of a run (score histogram, per-category bars) and of a comparison across runs.

Drawn on ``matplotlib.figure.Figure`` objects directly: no pyplot state, no display needed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.text import Text

from evaluator.results.summary import MACRO, MAX_SHOWN, MICRO, shown
from evaluator.results.writing import atomic_write


def _save(fig: Figure, path: Path) -> Path:
    # Labels are data (categories, run names): plain text, never parsed as mathtext ("$\\x$" would fail the chart).
    for text in fig.findobj(Text):
        text.set_parse_math(False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write(path, buf.getvalue())


def score_histogram(rows: Sequence[dict], low: float, high: float, path: Path, key: str = "score") -> Path:
    """Histogram of the overall score over the scored samples, one bin per point of the scale."""
    scores = [r[key] for r in rows if r.get(key) is not None]
    fig = Figure(figsize=(6, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    edges = [low - 0.5 + i for i in range(int(high - low) + 2)]
    ax.hist(scores, bins=edges, color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"{key} ({len(scores)} scored of {len(rows)})")
    ax.set_ylabel("samples")
    ax.set_title("Score distribution")
    return _save(fig, path)


def category_bars(table: dict, criterion: str, path: Path) -> Path:
    """Mean of ``criterion`` per category (from a summary table), each bar labelled with the samples it rests on."""
    table, left, _ = shown(table)  # a readable chart: the largest categories
    cats = [c for c in table if c not in (MACRO, MICRO)] + [MACRO]
    means = [table[c][criterion]["mean"] or 0.0 for c in cats]
    counts = [table[c][criterion]["n"] for c in cats]
    fig = Figure(figsize=(max(5, 0.7 * len(cats) + 2), 3.4), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    bars = ax.bar(range(len(cats)), means, color=["#4c72b0"] * (len(cats) - 1) + ["#dd8452"])
    ax.bar_label(bars, labels=[f"n={n}" for n in counts], fontsize=8)
    ax.set_xticks(range(len(cats)), cats, rotation=30, ha="right")
    ax.set_ylabel(f"mean {criterion}")
    ax.set_title(f"{criterion} by category" + (f" (the {len(cats) - 1} largest; {left} more)" if left else ""))
    return _save(fig, path)


def compare_bars(header: Sequence[str], rows: Sequence[Sequence], path: Path) -> Path:
    """One group of bars per category (and the averages), one bar per run: the leaderboard as a chart."""
    columns = list(header[2:-1])  # categories, then the macro and micro averages
    if len(columns) > MAX_SHOWN + 2:  # a readable chart: the first categories and the averages
        keep = [*range(MAX_SHOWN), len(columns) - 2, len(columns) - 1]
        columns = [columns[i] for i in keep]
        rows = [[*row[:2], *[row[2 + i] for i in keep], row[-1]] for row in rows]
    fig = Figure(figsize=(max(6, 0.9 * len(columns) * max(1, len(rows)) / 2 + 2), 3.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(rows))
    for k, row in enumerate(rows):
        values = [v or 0.0 for v in row[2:-1]]
        ax.bar([i + k * width for i in range(len(columns))], values, width, label=str(row[0]))
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(columns))], columns, rotation=30, ha="right")
    ax.set_ylabel(str(rows[0][1]) if rows else "")
    ax.legend(fontsize=8)
    ax.set_title("Runs by category")
    return _save(fig, path)
