"""Summary statistics over result rows: the overall score, and per-criterion tables as benchmarks print them.

A table has a row per category with each criterion's mean and the number of samples it rests on, then the macro
average (the mean of the category means: GEdit-Bench's "average") and the micro average (over samples). There is
one table for all samples, one per language, and, where the layout marks one, for the intersection subset.
Failed rows count in ``count`` and ``failures`` but never in a mean.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence

from evaluator.results import headline as headlines
from evaluator.results.agreement import agreement_markdown
from evaluator.results.krisbench import krisbench_tables
from evaluator.results.pairs import pairs_markdown
from evaluator.results.ratings import ratings_markdown
from evaluator.results.risebench import risebench_tables
from evaluator.runtime.logs import escape

MACRO, MICRO = "macro avg", "micro avg"
# What a person reads (the console, summary.md, the report, the charts) shows this many categories of a table, the
# largest, and one line for the rest; summary.json and the summary_*.csv tables keep every one.
MAX_SHOWN = 30
# Subsets get a table per language only for this many languages, the largest (benchmarks have two).
MAX_LANGUAGE_TABLES = 20


def _stats(rows: Sequence[dict], key: str = "score") -> dict:
    scores = [r[key] for r in rows if r.get(key) is not None]
    return {
        "count": len(rows),
        "scored": len(scores),
        "failures": len(rows) - len(scores),
        "mean": statistics.fmean(scores) if scores else None,
        "std": statistics.stdev(scores) if len(scores) > 1 else None,
        "min": min(scores) if scores else None,
        "max": max(scores) if scores else None,
    }


def _by(rows: Sequence[dict], key: str) -> dict[str, list[dict]]:
    groups: dict[str, list] = defaultdict(list)
    for r in rows:
        if r.get(key) is not None:
            groups[str(r[key])].append(r)
    return dict(sorted(groups.items()))


def _cell(rows: Sequence[dict], criterion: str) -> dict:
    values = [r[criterion] for r in rows if r.get(criterion) is not None]
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
    return {"mean": statistics.fmean(values) if values else None, "se": se, "n": len(values)}


def category_table(rows: Sequence[dict], criteria: Sequence[str]) -> dict:
    """Per category, macro and micro average of every criterion, each with the count it rests on."""
    out = {cat: {"n": len(rs), **{c: _cell(rs, c) for c in criteria}} for cat, rs in _by(rows, "category").items()}
    categories = list(out)
    macro = {}
    for c in criteria:
        cells = [out[cat][c] for cat in categories if out[cat][c]["mean"] is not None]
        ses = [cell["se"] for cell in cells]
        se = math.sqrt(sum(x * x for x in ses)) / len(ses) if ses and None not in ses else None
        macro[c] = {"mean": statistics.fmean(x["mean"] for x in cells) if cells else None, "se": se, "n": len(cells)}
    out[MACRO] = {"n": len(rows), **macro}
    out[MICRO] = {"n": len(rows), **{c: _cell(rows, c) for c in criteria}}
    return out


def groups(rows: Sequence[dict]) -> dict[str, list[dict]]:
    """The subsets benchmarks report: all, each language, and the intersection subset (with its languages)."""
    out = {"all": list(rows)}
    for lang, rs in _largest(_by(rows, "language")).items():
        out[f"language={lang}"] = rs
    inter = [r for r in rows if r.get("intersection")]
    if any("intersection" in r for r in rows):
        out["intersection"] = inter
        for lang, rs in _largest(_by(inter, "language")).items():
            out[f"intersection,language={lang}"] = rs
    return out


def _largest(by_language: dict[str, list]) -> dict[str, list]:
    if len(by_language) <= MAX_LANGUAGE_TABLES:
        return by_language
    kept = sorted(by_language, key=lambda k: (-len(by_language[k]), k))[:MAX_LANGUAGE_TABLES]
    return {k: by_language[k] for k in sorted(kept)}


def shown(named: dict, size=lambda v: v["n"], limit: int = MAX_SHOWN) -> tuple[dict, int, int]:
    """The entries of a per-category mapping a person is shown: all of them up to ``limit``, else the ``limit``
    largest by ``size`` (in their own order) and the macro and micro averages. Also returns how many categories
    were left out and how many samples they hold."""
    cats = [c for c in named if c not in (MACRO, MICRO)]
    if len(cats) <= limit:
        return named, 0, 0
    kept = set(sorted(cats, key=lambda c: (-size(named[c]), c))[:limit])
    left = [c for c in cats if c not in kept]
    return (
        {c: v for c, v in named.items() if c in kept or c in (MACRO, MICRO)},
        len(left),
        sum(size(named[c]) for c in left),
    )


def more_line(left: int, samples: int) -> str:
    return f"{left} more categories ({samples} samples): summary.json and summary_*.csv list every one"


def separation(rows: Sequence[dict], label: str = "follows", key: str = "score") -> dict | None:
    """How well the scores separate rows whose edit follows its instruction from those that do not.

    ROC AUC (the chance that a following edit scores above a non-following one, ties counting half: 0.5 is
    chance, 1.0 perfect) and the gap between the two groups' mean scores. None without both kinds of labelled,
    scored rows (the demo set records ``follows`` for every pair).
    """
    pos = [r[key] for r in rows if r.get(label) is True and r.get(key) is not None]
    neg = [r[key] for r in rows if r.get(label) is False and r.get(key) is not None]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return {
        "auc": wins / (len(pos) * len(neg)),
        "mean_gap": statistics.fmean(pos) - statistics.fmean(neg),
        "follows": len(pos),
        "does_not_follow": len(neg),
    }


def summarize(
    rows: Sequence[dict],
    criteria: Sequence[str] = ("score",),
    judgements: Sequence[str] = (),
    overall: str | None = None,
    protocol: str = "manifest",
    parser: str = "default",
    headline: dict | None = None,
) -> dict:
    """The headline as ``protocol`` computes it (see ``evaluator.results.headline``), the overall score's statistics
    (overall, per category, per language), failures by error, unparseable replies per judgement, and a table per
    subset for ``criteria``; ``overall`` names the criterion that is the overall score (default: the last of
    ``criteria``); ``headline``: one a protocol computes with settings of its own (GEditBench v2's Elo)."""
    unparseable = {}
    for j in judgements or ["score"]:
        column = f"error.{j}" if len(judgements) > 1 else "error"
        unparseable[j] = sum(1 for r in rows if "unparseable" in str(r.get(column) or ""))
    errors = Counter(r["error"] for r in rows if r.get("error"))
    return {
        # GEdit-Bench publishes each reported criterion; the others, the overall score alone.
        "headline": headline
        if headline is not None
        else risebench_tables(rows)
        if protocol == "risebench"
        else krisbench_tables(rows)
        if protocol == "krisbench"
        else headlines.headline(
            rows, protocol, list(criteria) if protocol == "gedit" else [overall or list(criteria)[-1]], parser
        ),
        **_stats(rows),
        "errors": dict(errors),
        "skipped": sum(n for e, n in errors.items() if e.startswith("skipped")),
        "unparseable": unparseable,
        "by_category": {k: _stats(v) for k, v in _by(rows, "category").items()},
        "by_language": {k: _stats(v) for k, v in _by(rows, "language").items()},
        "criteria": list(criteria),
        "overall": overall or list(criteria)[-1],
        "tables": {name: category_table(rs, criteria) for name, rs in groups(rows).items()},
        "sanity": separation(rows),
        "api": api_usage(rows),
    }


API_COUNTS = ("requests", "retries", "prompt_tokens", "completion_tokens")


def api_usage(rows: Sequence[dict]) -> dict | None:
    """What a ``backend=api`` run asked of its server (rows scored by an earlier run included); None otherwise."""
    if not any("api_requests" in r for r in rows):
        return None
    rows = [r for r in rows if not r.get("same_as")]  # a copy of another row's judgement asked nothing itself
    usage = {k: sum(int(r.get(f"api_{k}") or 0) for r in rows) for k in API_COUNTS}
    servers: dict[str, Counter] = {}
    for r in rows:  # several servers: each one's tries, and how many of them failed
        for url, counts in (r.get("api_servers") or {}).items():
            servers.setdefault(url, Counter()).update(counts)
    if servers:
        usage["servers"] = {url: dict(c) for url, c in sorted(servers.items())}
    # The model each server said answered; more than one means two judges' scores are mixed in this run.
    usage["models"] = dict(sorted(Counter(str(r["api_model"]) for r in rows if r.get("api_model")).items()))
    return usage


def _num(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def summary_markdown(summary: dict) -> str:
    """The summary as markdown: the headline, the overall score, one table per subset, then the failures."""
    lines = [*ratings_markdown(summary["arena"]), ""] if "arena" in summary else []
    lines += [*pairs_markdown(summary["pairs"]), ""] if "pairs" in summary else []
    lines += [*agreement_markdown(summary["agreement"]), ""] if "agreement" in summary else []
    lines += headlines.headline_markdown(summary["headline"], escape) if "headline" in summary else []
    lines += ["", "## All samples", ""]
    lines += ["| group | n | scored | failed | mean | std |", "| --- | ---: | ---: | ---: | ---: | ---: |"]

    def add(name: str, s: dict) -> None:
        lines.append(
            f"| {name} | {s['count']} | {s['scored']} | {s['failures']} | {_num(s['mean'])} | {_num(s['std'])} |"
        )

    add("**all**", summary)
    for kind in ("category", "language"):
        listed, left, samples = shown(summary[f"by_{kind}"], size=lambda v: v["count"])
        for name, s in listed.items():
            add(f"{kind}: {escape(name)}", s)
        if left:
            lines.append(f"| … {left} more {kind} values ({samples} samples) | | | | | |")
    criteria = summary["criteria"]
    for group, full in summary["tables"].items():
        tab, left, samples = shown(full)
        lines += ["", f"### {escape(group)}", ""]
        lines.append("| category | n | " + " | ".join(escape(c) for c in criteria) + " |")
        lines.append("| --- | ---: |" + " ---: |" * len(criteria))
        for cat, row in tab.items():
            name = f"**{cat}**" if cat in (MACRO, MICRO) else escape(cat)
            cells = [f"{_num(row[c]['mean'])} ({row[c]['n']})" for c in criteria]
            lines.append(f"| {name} | {row['n']} | " + " | ".join(cells) + " |")
        if left:
            lines.append(f"\n{more_line(left, samples)}")
    lines += ["", "Cells: mean (number of samples, or of categories for the macro average, it rests on); summary.json "
              "has each cell's standard error."]  # fmt: skip
    if sanity := summary.get("sanity"):
        lines.append(
            f"Judge sanity check: ROC AUC {sanity['auc']:.3f} separating the {sanity['follows']} edits that follow "
            f"their instruction from the {sanity['does_not_follow']} that do not (0.5 is chance); mean score gap "
            f"{sanity['mean_gap']:+.3f}."
        )
    if api := summary.get("api"):
        lines.append(
            f"Server: {api['requests']} requests ({api['retries']} retries), {api['prompt_tokens']} prompt and "
            f"{api['completion_tokens']} completion tokens."
        )
        for url, c in api.get("servers", {}).items():
            lines.append(f"- {escape(url)}: {c.get('requests', 0)} tries, {c.get('failed', 0)} failed")
        if models := api.get("models"):
            mixed = " (more than one judge: their scores are mixed in these results)" if len(models) > 1 else ""
            lines.append("Answered by: " + ", ".join(f"{escape(m)} ({n} rows)" for m, n in models.items()) + mixed)
    if summary["skipped"]:
        lines.append(
            f"Skipped inputs: {summary['skipped']} (their reasons are among the failures and in results.jsonl)."
        )
    if summary["errors"]:
        lines.append("Failures: " + ", ".join(f"{escape(e)} ({n})" for e, n in sorted(summary["errors"].items())))
    if any(summary["unparseable"].values()):
        lines.append("Unparseable replies: " + ", ".join(f"{j} ({n})" for j, n in summary["unparseable"].items()))
    return "\n".join(lines) + "\n"


def table_csv(tab: dict, criteria: Sequence[str], cell=lambda v: v) -> str:
    """One subset's table as CSV: category, n, then each criterion's mean, standard error and count; ``cell``
    makes each cell safe for a spreadsheet."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([cell(v) for v in ["category", "n", *[f for c in criteria for f in (c, f"{c}_se", f"{c}_n")]]])
    for cat, row in tab.items():
        values = [v for c in criteria for v in (row[c]["mean"], row[c]["se"], row[c]["n"])]
        writer.writerow([cell(cat), row["n"], *values])
    return buf.getvalue()
