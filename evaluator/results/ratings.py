"""Ranking editors from pairwise verdicts: Bradley–Terry ratings on an Elo-like scale, with bootstrap intervals.

Each verdict is one id's comparison of two editors: the first won, the second won, or a tie. The fit is the
Bradley–Terry model by maximum likelihood (Newton's method), a tie counting half a win for each side. A small
prior (``prior`` virtual ties between every two editors) keeps a perfect record's rating finite and the fit defined
when some editors never met. Ratings are ``1000 + 400 log10`` of the strengths, so a 400-point gap means 10:1 odds,
as in Elo and the public arenas. Where 1000 lies is a convention (``anchor``): by default the mean *rating* is 1000
(the strengths' geometric mean); GenArena's ``bt_elo.py`` puts the arithmetic mean of the strengths at 1000
(``anchor=mean_strength``), which lowers every rating alike, by more the further apart the editors are; the
gaps, the order and the odds are the same. Intervals come from resampling the *ids* with
replacement (every verdict of a drawn id comes along), so an id's correlated verdicts are not counted as independent.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evaluator.results.headline import interval
from evaluator.runtime.logs import escape

FIRST, SECOND, TIE = "first", "second", "tie"
BASE, SCALE = 1000.0, 400.0
BOOTSTRAP = 1000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """One comparison: on ``id``, editor ``first`` against editor ``second``; ``outcome`` is who won."""

    id: str
    first: str
    second: str
    outcome: str


def _wins_by_id(verdicts: Sequence[Verdict], index: dict[str, int]) -> np.ndarray:
    """``w[n, i, j]``: how often editor i beat editor j on the n-th id (ids sorted), a tie half a win each."""
    ids = {name: n for n, name in enumerate(sorted({v.id for v in verdicts}))}
    wins = np.zeros((len(ids), len(index), len(index)))
    for v in verdicts:
        n, i, j = ids[v.id], index[v.first], index[v.second]
        if v.outcome == FIRST:
            wins[n, i, j] += 1
        elif v.outcome == SECOND:
            wins[n, j, i] += 1
        else:
            wins[n, i, j] += 0.5
            wins[n, j, i] += 0.5
    return wins


def _with_prior(wins: np.ndarray, prior: float) -> np.ndarray:
    """``prior / 2`` virtual wins each way between every two editors."""
    out = wins + prior / 2
    np.fill_diagonal(out, 0.0)
    return out


ANCHORS = ("mean_rating", "mean_strength")


def fit(
    wins: np.ndarray, tolerance: float = 1e-9, max_iterations: int = 100, anchor: str = "mean_rating"
) -> np.ndarray:
    """Bradley–Terry ratings (Elo-like scale) from a win matrix (prior included), by Newton's method on the
    log-strengths, each step halved until the likelihood rises (it is concave; the prior makes it strictly so);
    1000 is the mean rating, or (``mean_strength``) the rating of the strengths' arithmetic mean."""
    games = wins + wins.T
    total = wins.sum(axis=1)
    theta = np.zeros(len(wins))

    def loglik(t):
        diff = t[:, None] - t[None, :]
        return float(np.sum(wins * -np.logaddexp(0.0, -diff)))

    current = loglik(theta)
    for _ in range(max_iterations):
        p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # p[i, j]: chance i beats j
        gradient = total - np.sum(games * p, axis=1)
        hessian = games * p * p.T
        np.fill_diagonal(hessian, 0.0)
        hessian -= np.diag(hessian.sum(axis=1))
        step = np.linalg.lstsq(hessian, -gradient, rcond=None)[0]  # the Hessian is singular along a common shift
        scale = 1.0
        while scale > 1e-6 and loglik(theta + scale * step) < current - 1e-12:
            scale /= 2
        theta = theta + scale * step
        theta -= theta.mean()
        previous, current = current, loglik(theta)
        if np.max(np.abs(scale * step)) < tolerance or abs(current - previous) < tolerance * 1e-3:
            break
    if anchor == "mean_strength":
        theta = theta - np.log(np.mean(np.exp(theta)))
    return BASE + SCALE * theta / np.log(10)


def rate(verdicts: Sequence[Verdict], prior: float = 1.0, resamples: int = BOOTSTRAP, seed: int = 0,
         anchor: str = "mean_rating") -> dict:  # fmt: skip
    """Each editor's rating, 95% interval, wins, losses and ties, and the win-rate matrix.

    Returns ``{"editors": {name: {"rating", "ci95", "wins", "losses", "ties"}}, "win_rate": {a: {b: rate}}}``,
    editors by rating, best first; a win rate counts a tie as half a win and is None for editors that never met.
    """
    names = sorted({v.first for v in verdicts} | {v.second for v in verdicts})
    index = {name: i for i, name in enumerate(names)}
    by_id = _wins_by_id(verdicts, index)
    ratings = fit(_with_prior(by_id.sum(axis=0), prior), anchor=anchor)
    rng = np.random.default_rng(seed)
    draws = np.empty((resamples, len(names)))
    for b in range(resamples):
        counts = np.bincount(rng.integers(0, len(by_id), size=len(by_id)), minlength=len(by_id))
        draws[b] = fit(_with_prior(np.tensordot(counts, by_id, axes=1), prior), anchor=anchor)
    record = _record(verdicts, names)
    order = sorted(names, key=lambda n: -ratings[index[n]])
    editors = {
        n: {"rating": round(float(ratings[index[n]]), 2), "ci95": [round(x, 2) for x in interval(draws[:, index[n]])],
            **record[n]}
        for n in order
    }  # fmt: skip
    groups = groups_of(verdicts, names)
    return {"editors": editors, "win_rate": win_rates(verdicts, order), "prior": prior, "resamples": resamples,
            "anchor": anchor, "groups": groups}  # fmt: skip


def groups_of(verdicts: Sequence[Verdict], names: Sequence[str]) -> list[list[str]]:
    """The editors in groups that met, directly or through others (one group: every rating is comparable with
    every other; several: ratings across groups come from the prior alone), largest first."""
    parent = {n: n for n in names}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for v in verdicts:
        parent[root(v.first)] = root(v.second)
    groups: dict[str, list[str]] = defaultdict(list)
    for n in names:
        groups[root(n)].append(n)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g))


def ratings_of(pairs: Sequence[dict], seed: int = 0, anchor: str = "mean_rating") -> dict:
    """An arena's ratings from its pair rows (``evaluator.results.pairs``): each decided pair one verdict between
    its ``editor_a`` and ``editor_b``, resampled by ``sample_id``; pairs without a verdict are counted, not rated."""
    outcome = {"A": FIRST, "B": SECOND, "tie": TIE}
    verdicts = [Verdict(str(p["sample_id"]), p["editor_a"], p["editor_b"], outcome[p["winner"]])
                for p in pairs if p.get("winner") in outcome]  # fmt: skip
    out = rate(verdicts, seed=seed, anchor=anchor) if verdicts else {"editors": {}, "win_rate": {}}
    if len(out.get("groups", [])) > 1:
        listed = "; ".join(", ".join(escape(n) for n in g) for g in out["groups"])
        log.warning("the arena's editors fall into %d groups that never met, directly or through others (%s): "
                    "ratings across groups come from the prior alone, not from any verdict", len(out["groups"]),
                    listed)  # fmt: skip
    return {**out, "pairs": len(pairs), "undecided": len(pairs) - len(verdicts)}


def ratings_markdown(arena: dict) -> list[str]:
    """The ratings and win rates as markdown lines for ``summary.md``."""
    names = list(arena["editors"])
    lines = [f"## Arena ({arena['pairs']} pairs, {arena['undecided']} without a verdict)", ""]
    if len(arena.get("groups", [])) > 1:
        lines += [f"The editors fall into {len(arena['groups'])} groups that never met: ratings across groups come "
                  "from the prior alone.", ""]  # fmt: skip
    lines += ["| editor | rating | 95% CI | wins | losses | ties |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, e in arena["editors"].items():
        lo, hi = e["ci95"]
        counts = f"{e['wins']} | {e['losses']} | {e['ties']}"
        lines.append(f"| {escape(name)} | {e['rating']:.0f} | {lo:.0f}–{hi:.0f} | {counts} |")
    lines += ["", "Win rate of the row's editor against the column's (a tie counts half):", ""]
    lines += ["| | " + " | ".join(escape(n) for n in names) + " |", "| --- |" + " ---: |" * len(names)]
    for a in names:
        rates = [arena["win_rate"][a].get(b) for b in names]
        lines.append(f"| {escape(a)} | " + " | ".join("–" if r is None else f"{r:.2f}" for r in rates) + " |")
    return lines


def _record(verdicts: Sequence[Verdict], names: Sequence[str]) -> dict[str, dict[str, int]]:
    record = {n: {"wins": 0, "losses": 0, "ties": 0} for n in names}
    for v in verdicts:
        if v.outcome == TIE:
            record[v.first]["ties"] += 1
            record[v.second]["ties"] += 1
        else:
            winner, loser = (v.first, v.second) if v.outcome == FIRST else (v.second, v.first)
            record[winner]["wins"] += 1
            record[loser]["losses"] += 1
    return record


def win_rates(verdicts: Sequence[Verdict], names: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """``rate[a][b]``: the share of a's comparisons with b that a won, a tie counting half."""
    score: dict[tuple[str, str], float] = defaultdict(float)
    games: dict[tuple[str, str], int] = defaultdict(int)
    for v in verdicts:
        points = {FIRST: 1.0, SECOND: 0.0, TIE: 0.5}[v.outcome]
        score[v.first, v.second] += points
        score[v.second, v.first] += 1 - points
        games[v.first, v.second] += 1
        games[v.second, v.first] += 1
    return {
        a: {b: (round(score[a, b] / games[a, b], 4) if games[a, b] else None) for b in names if b != a} for a in names
    }
