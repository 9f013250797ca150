"""GEditBench v2's leaderboard, as its ``elo_score.py`` computes it from the pairwise verdicts of a run.

Its model: one ability per editor shared by every dimension (each judgement of the scheme is a dimension),
fitted by maximum likelihood with an L2 penalty (``alpha``) on the abilities; a tie has probability
``2 nu_d exp((a + b) / 2) / Z`` (Davidson), with one tie propensity per dimension bounded to ``log nu`` in [-12, 8];
with ``balanced`` weighting each dimension weighs as much as the mean dimension, whatever its number of matches.
Abilities become Elo as ``1000 + theta * 400 / ln 10``. The 95% interval comes from refitting on bootstrap resamples
of the queries ("prompt clusters": every match of a query together), seeded, each fit starting from the first one.
Its evaluation writes no tie and no failed verdict to the files this script reads, so both are left out here too,
and counted. The fit is L-BFGS-B as in its script (scipy), so the rounded figures are the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ELO_BASE, ELO_SCALE = 1000.0, 400 / math.log(10)
LOG_NU_BOUNDS = (-12.0, 8.0)
# Which version of its scripts this follows, for summary.json.
PROTOCOL = {
    "benchmark": "GEditBench v2",
    "scripts": "src/common_utils/elo_score.py, the pairs of dataset_loader.py and the writer of cli/autopipeline.py, "
    "as of commit 82bc00e",
    "pairs": "every pair of the compared editors per query, once, in canonical name order",
    "left_out": "ties and failed verdicts (its evaluation does not write them)",
}


@dataclass(frozen=True)
class Counts:
    """Matches on ordered pairs (a shown as Image A): wins of each side and ties."""

    a: np.ndarray
    b: np.ndarray
    wins_a: np.ndarray
    wins_b: np.ndarray
    ties: np.ndarray

    @property
    def total(self) -> int:
        return round(float((self.wins_a + self.wins_b + self.ties).sum()))


def decisive(rows: Sequence[dict], dimension: str) -> list[tuple[str, str, str, float]]:
    """The matches its script reads for one dimension, in the run's row order: (query, editor A, editor B, 1 if A
    won else 0); ties and rows without a verdict are left out, as its evaluation leaves them out of its files."""
    out = []
    for r in rows:
        value = r.get(dimension)
        if value in (0.0, 1.0) and r.get("editor_a") and r.get("editor_b") and r["editor_a"] != r["editor_b"]:
            out.append((str(r["key"]), str(r["editor_a"]), str(r["editor_b"]), float(value)))
    return out


def _counts(matrices: Sequence[np.ndarray]) -> Counts:
    wins_a, wins_b, ties = matrices
    a, b = np.nonzero((wins_a + wins_b + ties) > 0)
    return Counts(a, b, wins_a[a, b], wins_b[a, b], ties[a, b])


def _combine(clusters: Sequence[Counts], n: int) -> Counts:
    mats = [np.zeros((n, n)) for _ in range(3)]
    for c in clusters:
        for mat, values in zip(mats, (c.wins_a, c.wins_b, c.ties), strict=True):
            np.add.at(mat, (c.a, c.b), values)
    return _counts(mats)


def _clusters(matches: Sequence[tuple[str, str, str, float]], index: dict[str, int]) -> list[Counts]:
    """Each query's matches as counts, queries in order of first appearance."""
    by_query: dict[str, dict[tuple[int, int], list[float]]] = {}
    for query, a, b, outcome in matches:
        cell = by_query.setdefault(query, {}).setdefault((index[a], index[b]), [0.0, 0.0, 0.0])
        cell[0 if outcome == 1.0 else 1 if outcome == 0.0 else 2] += 1.0
    out = []
    for cells in by_query.values():
        pairs, values = np.array(list(cells), dtype=np.intp), np.array(list(cells.values()))
        out.append(Counts(pairs[:, 0], pairs[:, 1], values[:, 0], values[:, 1], values[:, 2]))
    return out


def _weights(stats: Sequence[Counts], weighting: str) -> np.ndarray:
    counts = np.array([s.total for s in stats], dtype=float)
    if weighting == "by_matches":
        return np.ones(len(stats))
    positive = counts[counts > 0]
    if not len(positive):
        return np.zeros(len(stats))
    return np.where(counts > 0, float(np.mean(positive)) / np.where(counts > 0, counts, 1), 0.0)


def fit_abilities(stats: Sequence[Counts], n: int, alpha: float, weights, start=None) -> tuple[np.ndarray, np.ndarray]:
    """Abilities (centred) and each dimension's log tie propensity; ``start``: (abilities, log nu) to start from.

    Raises:
        RuntimeError: the optimiser did not converge.
    """
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    if n <= 1:
        return np.zeros(n), np.zeros(len(stats))
    if start is None:
        rates = [np.clip(0.0 if s.total == 0 else float(s.ties.sum()) / s.total, 1e-6, 1 - 1e-6) for s in stats]
        theta0, log_nu0 = np.zeros(n - 1), np.log(np.array(rates) / (1 - np.array(rates)))
    else:
        theta0, log_nu0 = (start[0] - np.mean(start[0]))[:-1], np.asarray(start[1], dtype=float)
    log_nu0 = np.clip(log_nu0, *LOG_NU_BOUNDS)

    def objective(params):
        theta = np.append(params[: n - 1], 0.0)
        log_nu = params[n - 1 :]
        loss, grad, grad_nu = 0.5 * alpha * theta @ theta, alpha * theta, np.zeros(len(stats))
        for d, (w, s) in enumerate(zip(weights, stats, strict=True)):
            if w == 0.0 or s.total == 0:
                continue
            ta, tb = theta[s.a], theta[s.b]
            logits = np.column_stack([ta, tb, log_nu[d] + 0.5 * (ta + tb) + np.log(2.0)])
            log_z = logsumexp(logits, axis=1)
            loss -= w * np.sum(s.wins_a * (ta - log_z) + s.wins_b * (tb - log_z) + s.ties * (logits[:, 2] - log_z))
            p = np.exp(logits - log_z[:, None])
            total = s.wins_a + s.wins_b + s.ties
            g_a, g_b, g_t = (w * (total * p[:, k] - x) for k, x in enumerate((s.wins_a, s.wins_b, s.ties)))
            np.add.at(grad, s.a, g_a + 0.5 * g_t)
            np.add.at(grad, s.b, g_b + 0.5 * g_t)
            grad_nu[d] += np.sum(g_t)
        return loss, np.concatenate([grad[:-1], grad_nu])

    bounds = [(None, None)] * (n - 1) + [LOG_NU_BOUNDS] * len(stats)
    res = minimize(objective, np.concatenate([theta0, log_nu0]), method="L-BFGS-B", jac=True, bounds=bounds)
    if not res.success:
        raise RuntimeError(f"the Elo fit did not converge: {res.message}")
    theta = np.append(res.x[: n - 1], 0.0)
    return theta - np.mean(theta), res.x[n - 1 :]


def elo_leaderboard(rows: Sequence[dict], dimensions: Sequence[str], settings) -> dict:
    """The ``headline`` block of a GEditBench v2 run (``protocol: geditv2``); ``settings``: the data config's
    ``bootstrap``, ``alpha``, ``dimension_weighting`` and ``elo_seed``. See the module docstring."""
    per_dim = {d: decisive(rows, d) for d in dimensions}
    models = sorted({m for matches in per_dim.values() for _, a, b, _ in matches for m in (a, b)})
    index = {m: i for i, m in enumerate(models)}
    clusters = {d: _clusters(m, index) for d, m in per_dim.items()}
    stats = [_combine(c, len(models)) for c in clusters.values()]
    weights = _weights(stats, settings.dimension_weighting)
    theta, log_nu = fit_abilities(stats, len(models), settings.alpha, weights)
    rng, draws, failed = np.random.default_rng(settings.elo_seed), [], 0
    for _ in range(max(int(settings.bootstrap), 0)):
        sampled = [_combine([cs[i] for i in rng.integers(0, len(cs), size=len(cs))], len(models)) if cs
                   else _combine([], len(models)) for cs in clusters.values()]  # fmt: skip
        weighed = _weights(sampled, settings.dimension_weighting)
        try:
            draws.append(fit_abilities(sampled, len(models), settings.alpha, weighed, start=(theta, log_nu))[0])
        except RuntimeError:
            failed += 1
    low, high = (np.percentile(draws, 2.5, axis=0), np.percentile(draws, 97.5, axis=0)) if draws else (theta, theta)
    board = [_entry(m, i, theta, low, high, stats, clusters) for i, m in enumerate(models)]
    board.sort(key=lambda e: -e["elo"])
    return {
        "protocol": "geditv2",
        "leaderboard": board,
        "dimensions": list(dimensions),
        "tie_nu": {d: float(np.exp(v)) for d, v in zip(dimensions, log_nu, strict=True)},
        "verdicts": {d: _tally(rows, d) for d in dimensions},
        "settings": {k: settings[k] for k in ("bootstrap", "alpha", "dimension_weighting", "elo_seed")},
        "version": PROTOCOL,
        "bootstrap_failures": failed,
        **_compatible(board, rows),
    }


def _entry(model, i, theta, low, high, stats, clusters) -> dict:
    score = float(ELO_BASE + theta[i] * ELO_SCALE)
    bounds = [float(ELO_BASE + low[i] * ELO_SCALE), float(ELO_BASE + high[i] * ELO_SCALE)]
    lo, hi = round(bounds[0] - score), round(bounds[1] - score)
    matches = sum(int(((s.a == i) | (s.b == i)).astype(int) @ (s.wins_a + s.wins_b + s.ties)) for s in stats)
    covered = sum(any(((c.a == i) | (c.b == i)).any() for c in cs) for cs in clusters.values())
    return {
        "model": model,
        "elo": round(score),
        "elo_exact": score,
        "ci_string": f"{lo}/+{hi}" if hi > 0 else f"{lo}/{hi}",
        "ci95": bounds,
        "dimensions_covered": int(covered),
        "matches": matches,
    }


def _tally(rows: Sequence[dict], dimension: str) -> dict:
    values = [r.get(dimension) for r in rows if r.get("editor_a")]
    return {"A": values.count(1.0), "B": values.count(0.0), "tie": values.count(0.5), "none": values.count(None)}


def _compatible(board: list[dict], rows: Sequence[dict]) -> dict:
    """What the report and ``compare`` read of any headline: a figure per editor, and the counts of its notes."""
    missing = sum(1 for r in rows if r.get("error") == "missing edit")
    return {
        "criteria": ["elo"],
        "figures": {
            f"{e['model']}/elo": {
                "value": e["elo_exact"],
                "se": None,
                "ci95": e["ci95"],
                "n": e["matches"],
                "types": 1,
                "empty_types": [],
            }
            for e in board
        },
        "types_expected": 1,
        "missing_edits": missing,
        "unscored": sum(1 for r in rows if r.get("score") is None) - missing,
        "unparseable": sum(1 for r in rows if "unparseable" in str(r.get("error") or "")),
        "parser": "geditv2",
        "outside_protocol": {},
    }


def elo_markdown(h: dict, escape=str) -> list[str]:
    """The leaderboard as its script prints it, with the verdicts it rests on and what it leaves out."""
    lines = ["## Headline (GEditBench v2 protocol: Elo)", "", "| rank | editor | Elo | 95% CI | dimensions | matches |",
             "| ---: | --- | ---: | --- | ---: | ---: |"]  # fmt: skip
    for rank, e in enumerate(h["leaderboard"], start=1):
        lines.append(f"| {rank} | {escape(e['model'])} | {e['elo']} | {e['ci_string']} | {e['dimensions_covered']} | "
                     f"{e['matches']} |")  # fmt: skip
    s = h["settings"]
    lines += ["", f"Joint Davidson/Bradley-Terry fit over {', '.join(h['dimensions'])}; alpha {s['alpha']}, "
              f"{s['dimension_weighting']} weighting, {s['bootstrap']} query-cluster bootstrap resamples, seed "
              f"{s['elo_seed']}."]  # fmt: skip
    for d, t in h["verdicts"].items():
        lines.append(f"{escape(d)}: A {t['A']}, B {t['B']}, tie {t['tie']} and no verdict {t['none']} (ties and "
                     "pairs without a verdict are left out, as its evaluation leaves them out).")  # fmt: skip
    if h["missing_edits"]:
        lines.append(f"{h['missing_edits']} pairs lack an image: left out, and counted.")
    return lines
