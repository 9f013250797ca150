"""Summary statistics over result rows, and their markdown table."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence


def _stats(rows: Sequence[dict]) -> dict:
    scores = [r["score"] for r in rows if r.get("score") is not None]
    return {
        "count": len(rows),
        "scored": len(scores),
        "failures": len(rows) - len(scores),
        "mean": statistics.fmean(scores) if scores else None,
        "std": statistics.stdev(scores) if len(scores) > 1 else None,
        "min": min(scores) if scores else None,
        "max": max(scores) if scores else None,
    }


def _grouped(rows: Sequence[dict], key: str) -> dict:
    groups: dict[str, list] = defaultdict(list)
    for r in rows:
        if r.get(key) is not None:
            groups[str(r[key])].append(r)
    return {name: _stats(members) for name, members in sorted(groups.items())}


def summarize(rows: Sequence[dict]) -> dict:
    """Count, mean, std, failures (by error) overall, and the same per category and per language.

    Failed rows count in ``count`` and ``failures`` but never in a mean: a mean rests on ``scored`` rows.
    """
    return {
        **_stats(rows),
        "errors": dict(Counter(r["error"] for r in rows if r.get("error"))),
        "by_category": _grouped(rows, "category"),
        "by_language": _grouped(rows, "language"),
    }


def _num(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def to_markdown(summary: dict) -> str:
    """The summary as one markdown table (overall, then each category and language), plus the failures."""
    lines = ["| group | n | scored | failed | mean | std |", "| --- | ---: | ---: | ---: | ---: | ---: |"]

    def add(name: str, s: dict) -> None:
        lines.append(
            f"| {name} | {s['count']} | {s['scored']} | {s['failures']} | {_num(s['mean'])} | {_num(s['std'])} |"
        )

    add("**all**", summary)
    for kind in ("category", "language"):
        for name, s in summary[f"by_{kind}"].items():
            add(f"{kind}: {_escape(name)}", s)
    if summary["errors"]:
        lines += ["", "Failures: " + ", ".join(f"{_escape(e)} ({n})" for e, n in sorted(summary["errors"].items()))]
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    """Keep user-written names from breaking the table."""
    return text.replace("|", "\\|").replace("\n", " ")
