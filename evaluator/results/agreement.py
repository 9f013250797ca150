"""How often a judge's pairwise verdict agrees with a person's: the figure for choosing a judge.

A row holds ``human`` (a person's verdict: ``A``, ``B`` or ``tie``) and ``winner`` (the judge's, in the same terms;
None where the judge gave none). ``accuracy`` counts a row right when the two verdicts are equal; a tie of the judge
against a person's A or B counts wrong, as EditScore's and EditReward's own statistics count it, and a row the judge
could not decide (an error) counts wrong too, so a judge cannot raise its figure by failing. ``accuracy_without_ties``
is EditReward-Bench's (its evaluation script's ``calc_accuracy_without_ties``, C / (C + D + Tm)): the rows where the
person said tie are left out (``ties`` says how many), and a tie of the judge still counts wrong (``judge_ties``), so
a judge that falls back on position on hard pairs cannot raise it. A row skipped for its input (``skipped: ...``)
is not the judge's to answer: it counts in ``skipped`` only. Intervals resample rows with replacement. The figures
as EditReward-Bench's and EditScore's own scripts print them are in ``as_published``
(``evaluator.results.published_agreement``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from evaluator.results.headline import interval
from evaluator.results.published_agreement import published_agreement, published_markdown
from evaluator.runtime.logs import escape

VERDICTS = ("A", "B", "tie")
BOOTSTRAP = 2000


def _figures(right: np.ndarray, seed: int) -> dict:
    """A share of right answers, with its 95% interval (none for fewer than two rows)."""
    if len(right) == 0:
        return {"value": None, "ci95": None}
    rng = np.random.default_rng(seed)
    ci = (
        interval(right[rng.integers(0, len(right), size=(BOOTSTRAP, len(right)))].mean(axis=1))
        if len(right) > 1
        else None
    )
    return {"value": round(float(right.mean()), 6), "ci95": None if ci is None else [round(x, 6) for x in ci]}


def agreement_of(rows: Sequence[dict], seed: int = 0) -> dict:
    """The judge's agreement with people over ``rows`` that carry a ``human`` verdict; see the module docstring."""
    # A skipped input row (a duplicate pair, an unreadable image) is the input's fault, not the judge's: it is
    # counted apart, never as a wrong verdict.
    skipped = [r for r in rows if str(r.get("error") or "").startswith("skipped")]
    labelled = [r for r in rows if r.get("human") in VERDICTS and not str(r.get("error") or "").startswith("skipped")]
    right = np.array([float(r.get("winner") == r["human"]) for r in labelled])
    decided = [r for r in labelled if r["human"] in ("A", "B")]
    right_decided = np.array([float(r["winner"] == r["human"]) for r in decided])
    overall = _figures(right, seed)
    without = _figures(right_decided, seed)
    return {
        "accuracy": overall["value"],
        "ci95": overall["ci95"],
        "n": len(labelled),
        "errors": sum(r.get("winner") not in VERDICTS for r in labelled),
        "accuracy_without_ties": without["value"],
        "ci95_without_ties": without["ci95"],
        "ties": sum(r["human"] == "tie" for r in labelled),
        "judge_ties": sum(r.get("winner") == "tie" for r in decided),
        "unlabelled": len(rows) - len(labelled) - len(skipped),
        "skipped": len(skipped),
        "by_category": _by(labelled, "category", seed),
        "by_criterion": _by(labelled, "criterion", seed),
        "as_published": published_agreement(rows),
    }


def _by(labelled: Sequence[dict], column: str, seed: int) -> dict[str, dict]:
    """The accuracy per value of ``column`` (category; criterion: EditScore's dimensions); empty where no row has
    one."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in labelled:
        groups[str(r.get(column) or "")].append(r)
    if set(groups) == {""}:
        return {}
    out = {}
    for category, members in sorted(groups.items()):
        figures = _figures(np.array([float(r.get("winner") == r["human"]) for r in members]), seed)
        out[category] = {"accuracy": figures["value"], "ci95": figures["ci95"], "n": len(members)}
    return out


def agreement_markdown(block: dict) -> list[str]:
    """The agreement block as markdown lines for ``summary.md``."""
    ci = block["ci95"]
    lines = [
        f"## Agreement with people ({block['n']} labelled pairs)",
        "",
        f"accuracy {block['accuracy']:.3f}" + (f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else "")
        if block["accuracy"] is not None
        else "accuracy: no labelled pair",
    ]
    if block["accuracy_without_ties"] is not None:
        lines.append(
            f"accuracy without ties {block['accuracy_without_ties']:.3f} (EditReward-Bench's: {block['ties']} pairs a "
            f"person called a tie left out, {block.get('judge_ties', 0)} ties of the judge counted wrong)"
        )
    if block["errors"]:
        lines.append(f"{block['errors']} pair(s) the judge did not decide, counted wrong")
    if block.get("skipped"):
        lines.append(f"{block['skipped']} pair(s) skipped for their input (not counted; see pairs.jsonl)")
    for column in ("criterion", "category"):
        if block.get(f"by_{column}"):
            lines += ["", f"| {column} | n | accuracy |", "| --- | --- | --- |"]
            lines += [f"| {escape(c)} | {b['n']} | {b['accuracy']:.3f} |" for c, b in block[f"by_{column}"].items()]
    if block.get("as_published"):
        lines += published_markdown(block["as_published"])
    return lines
