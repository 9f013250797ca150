"""Agreement with people as each human-preference benchmark's own script prints it, from a pairs run's rows.

Each figure is named after the benchmark whose code computes it, and computed as that code does on our export
(``python -m evaluator.export RUN --format editreward|editscore``), so a researcher can put it beside the paper's:

- ``editreward_bench`` (TIGER-Lab's EditReward-Bench, ``EditReward/evaluate/eval_bench.py``): each pair's human
  label h (1: A, -1: B, 0: tie) and the judge's margin m (score A - score B; a pairwise judge's verdict as 1, -1
  or 0). ``accuracy_without_ties`` is C / (C + D + Tm): human ties left out, the judge's ties counted wrong (the
  script's figure for its 3- and 4-image subsets). ``accuracy_with_ties`` is its tie-calibrated accuracy
  (C + Thm) / all, at the margin threshold epsilon that maximises it, tried over 0 and every |m| (its figure for
  the 2-image subset and its overall headline).
- ``editscore`` (EditScore's ``calculate_statistics.py``): per dimension (the pairs' ``criterion``) and task type
  (their ``category``), the share of pairs where the people's preferred edit scored strictly higher; the headline
  is each dimension's plain mean over the task types, not the pooled share.

Pairs the judge gave no verdict are not in the scripts' inputs (their scorers guess a score instead): they are
left out here too and counted in ``left_out``; ``agreement.accuracy`` counts them wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

HUMAN = {"A": 1, "B": -1, "tie": 0}


def margin(row: dict) -> float | None:
    """The judge's margin for A over B: the score difference of a pointwise pair, else the verdict as 1, -1, 0."""
    if row.get("winner") is None:
        return None
    if row.get("score_a") is not None and row.get("score_b") is not None:
        return float(row["score_a"]) - float(row["score_b"])
    return float(HUMAN[row["winner"]])


def _counts(h: Sequence[int], m: Sequence[float], epsilon: float) -> tuple[int, int, int, int, int]:
    """C, D, Th, Tm, Thm: concordant, discordant, human tie only, judge tie only, both tie (judge tie: |m| <= eps)."""
    c = d = th = tm = thm = 0
    for hi, mi in zip(h, m, strict=True):
        judge_tie = abs(mi) <= epsilon
        if hi == 0:
            thm, th = thm + judge_tie, th + (not judge_tie)
        elif judge_tie:
            tm += 1
        elif hi * mi > 0:
            c += 1
        else:
            d += 1
    return c, d, th, tm, thm


def editreward_figures(h: Sequence[int], m: Sequence[float]) -> dict:
    """EditReward-Bench's two pairwise accuracies of labels ``h`` and margins ``m``; see the module docstring."""
    if not h:
        return {"accuracy_without_ties": None, "accuracy_with_ties": None, "epsilon": None, "n": 0}
    c, d, _, tm, _ = _counts(h, m, -1.0)  # epsilon -1: no margin is a tie, as the script calls it
    without = c / (c + d + tm) if c + d + tm else None
    best, best_epsilon = -1.0, 0.0
    for epsilon in [0.0, *sorted({abs(x) for x in m})]:
        c, d, th, tm, thm = _counts(h, m, epsilon)
        accuracy = (c + thm) / (c + d + th + tm + thm)
        if accuracy > best:  # the first threshold reaching the best, as the script keeps it
            best, best_epsilon = accuracy, epsilon
    return {"accuracy_without_ties": _round(without), "accuracy_with_ties": _round(best),
            "epsilon": _round(best_epsilon), "n": len(h)}  # fmt: skip


def editscore_figures(pairs: Sequence[dict]) -> dict:
    """EditScore's accuracy per dimension and task type, and its headline per dimension; see the module docstring."""
    cells: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for p in pairs:
        cells[str(p.get("criterion") or "overall")][str(p.get("category") or "")].append(p["winner"] == p["human"])
    out = {}
    for dimension, by_type in sorted(cells.items()):
        shares = {t: sum(v) / len(v) for t, v in sorted(by_type.items())}
        out[dimension] = {"average": _round(sum(shares.values()) / len(shares)),
                          "by_category": {t: _round(s) for t, s in shares.items()}}  # fmt: skip
    return out


def published_agreement(rows: Sequence[dict]) -> dict:
    """Both benchmarks' figures over the labelled pairs with a verdict (``editscore``: those a person preferred one
    edit of), overall and (EditReward-Bench) per category."""
    labelled = [r for r in rows if r.get("human") in HUMAN and not str(r.get("error") or "").startswith("skipped")]
    judged = [r for r in labelled if margin(r) is not None]
    by_category: dict[str, list[dict]] = defaultdict(list)
    for r in judged:
        by_category[str(r.get("category") or "")].append(r)
    editreward = editreward_figures([HUMAN[r["human"]] for r in judged], [margin(r) for r in judged])
    if set(by_category) != {""}:
        editreward["by_category"] = {
            c: editreward_figures([HUMAN[r["human"]] for r in rs], [margin(r) for r in rs])
            for c, rs in sorted(by_category.items())
        }
    preferred = [r for r in judged if r["human"] != "tie"]
    return {
        "left_out": len(labelled) - len(judged),
        "editreward_bench": editreward,
        "editscore": editscore_figures(preferred) if preferred else {},
    }


def published_markdown(block: dict) -> list[str]:
    """The figures as markdown lines for ``summary.md``."""
    er = block["editreward_bench"]
    lines = ["", "As the benchmarks' own scripts print it:", ""]
    if er["n"]:
        without = "–" if er["accuracy_without_ties"] is None else f"{er['accuracy_without_ties']:.4f}"
        lines.append(f"- EditReward-Bench: accuracy with ties {er['accuracy_with_ties']:.4f} (epsilon "
                     f"{er['epsilon']:g}), without ties {without}, over {er['n']} pairs")  # fmt: skip
    for dimension, cell in block["editscore"].items():
        lines.append(
            f"- EditScore, {dimension}: {cell['average']:.3f} (mean over {len(cell['by_category'])} task types)"
        )
    if block["left_out"]:
        lines.append(f"- {block['left_out']} pair(s) without a verdict are not in these figures")
    return lines


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)
