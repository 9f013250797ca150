"""A pair's verdict from its samples' rows (``data=pairs``; see ``evaluator.inputs.pairs``), and what the verdicts
add up to.

Pairwise: each order's verdict is read in the data's own terms (order ``BA`` shows B first, so its "first is better"
is a vote for B); the pair's ``winner`` is A or B only when both orders agree, otherwise a tie, and ``consistent``
says whether they agreed, so position bias is counted, never hidden. In logit mode ``p_a`` is the chance that A is
better, averaged over both orders, a tie's share split evenly. Pointwise: each edit is scored on its own and the
higher score wins; equal scores are a tie. A pair whose ``criterion`` column names one of the scheme's criteria is
decided by that score (EditScore's set asks each dimension's pairs about that dimension); the others by the overall.
A pair with a failed or missing sample has no winner and says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

# What a sample row holds that is not the pair's: its own id, images shown, scores and bookkeeping.
_PER_SAMPLE = {
    "id",
    "edited",
    "second",
    "order",
    "candidate",
    "score",
    "error",
    "rank",
    "seconds",
    "pair_id",
    "same_as",
}


def _verdict(row: dict, key: str) -> str | None:
    """An order's verdict about the edit shown first: ``first``, ``second`` or ``tie`` (None without one)."""
    value = row.get(f"{key}_argmax", row.get(key, row.get("score")))
    if row.get("error") is not None or value is None:
        return None
    return "first" if value > 0.5 else "second" if value < 0.5 else "tie"


def _in_data_terms(verdict: str | None, order: str) -> str | None:
    if verdict in (None, "tie"):
        return verdict
    first, second = order[0], order[1]
    return first if verdict == "first" else second


def pair_rows(rows: Sequence[dict], key: str, pairwise: bool) -> list[dict]:
    """One row per pair, in input order: its fields, both orders' (or both edits') results, ``winner`` and, for a
    pairwise judge, ``consistent`` and (logit mode) ``p_a``; ``error`` says why a pair has no winner.

    A row that is not one of a pair's samples (a skipped input row: a duplicate id, a missing column, an arena's
    editors that edited different things) is a pair of its own without a winner; it never takes the place of
    another pair's order."""
    by_pair: dict[tuple, dict[str, dict]] = {}
    for n, r in enumerate(rows):
        member = r.get("order") or r.get("candidate")
        if r.get("pair_id") is None or member is None:
            by_pair[("row", n)] = {"": r}
        else:
            by_pair.setdefault(("pair", str(r["pair_id"])), {})[member] = r
    out = []
    for (kind, name), members in by_pair.items():
        if kind == "row":
            out.append(_not_judged(members[""]))
        else:
            out.append((_pairwise if pairwise else _pointwise)(name, members, key))
    return out


def _not_judged(row: dict) -> dict:
    """An input row that never became a pair's samples, as a pair row: its fields, no winner, and why."""
    fields = {k: v for k, v in row.items() if k not in _PER_SAMPLE or k == "id"}
    return {**fields, "winner": None, "error": row.get("error") or "not judged"}


def _fields(pair_id: str, members: dict[str, dict], key: str) -> dict:
    """The pair's own fields: what its samples' rows share, less what the judge wrote about each sample."""
    rows = list(members.values())
    judged = {key, f"{key}_argmax", f"{key}_confidence"}
    return {"id": pair_id, **{
        k: v for k, v in rows[0].items()
        if k not in _PER_SAMPLE | judged and not k.startswith(("response", "error.", "api_"))
        and all(r.get(k) == v for r in rows[1:])
    }}  # fmt: skip


def _pairwise(pair_id: str, members: dict[str, dict], key: str) -> dict:
    ab, ba = members.get("AB"), members.get("BA")
    out = _fields(pair_id, members, key)
    first = ab or ba or {}
    out.update(edited_a=first.get("edited") if ab else first.get("second"),
               edited_b=first.get("second") if ab else first.get("edited"))  # fmt: skip
    votes = {order: _in_data_terms(_verdict(r, key), order) if r else None for order, r in (("AB", ab), ("BA", ba))}
    out.update(verdict_ab=votes["AB"], verdict_ba=votes["BA"])
    if None in votes.values():
        return {**out, "winner": None, "consistent": None, "error": _failure(members)}
    consistent = votes["AB"] == votes["BA"]
    out.update(winner=votes["AB"] if consistent else "tie", consistent=consistent, error=None)
    if f"{key}_confidence" in ab:  # logit mode: the scores are the chance the edit shown first is better
        out["p_a"] = round((ab[key] + (1 - ba[key])) / 2, 6)
    return out


def _pointwise(pair_id: str, members: dict[str, dict], key: str) -> dict:
    a, b = members.get("A"), members.get("B")
    out = _fields(pair_id, members, key)
    key = out.get("criterion") or key  # the pair's own criterion (EditScore's set: its dimension), else the overall
    out.update(edited_a=(a or {}).get("edited"), edited_b=(b or {}).get("edited"))
    scores = {c: (r or {}).get(key, (r or {}).get("score")) for c, r in (("A", a), ("B", b))}
    out.update(score_a=scores["A"], score_b=scores["B"])
    if None in scores.values():
        return {**out, "winner": None, "error": _failure(members)}
    winner = "A" if scores["A"] > scores["B"] else "B" if scores["B"] > scores["A"] else "tie"
    return {**out, "winner": winner, "error": None}


def _failure(members: dict[str, dict]) -> str:
    """Why a pair has no verdict: its samples' errors (a skipped input row is one row for both)."""
    errors = list(dict.fromkeys(r["error"] for r in members.values() if r.get("error")))
    return "; ".join(errors) or "not judged"


def pairs_summary(pairs: Sequence[dict]) -> dict:
    """How the verdicts add up: pairs, winners, pairs without one; for a pairwise judge also how often both
    orders agreed and how often the edit shown first won an order's verdict (0.5 without position bias)."""
    winners = Counter(p["winner"] for p in pairs if p["winner"] is not None)
    out = {"n": len(pairs), "winners": {w: winners.get(w, 0) for w in ("A", "B", "tie")},
           "undecided": sum(p["winner"] is None for p in pairs)}  # fmt: skip
    judged = [p for p in pairs if p.get("consistent") is not None]
    if judged:
        out["consistent"] = round(sum(p["consistent"] for p in judged) / len(judged), 6)
        firsts = [
            v == o[0] for p in judged for o, v in (("AB", p["verdict_ab"]), ("BA", p["verdict_ba"])) if v != "tie"
        ]
        out["first_shown_wins"] = round(sum(firsts) / len(firsts), 6) if firsts else None
    return out


def pairs_markdown(summary: dict) -> list[str]:
    """The pairs block as markdown lines for ``summary.md``."""
    w = summary["winners"]
    lines = [f"## Pairs ({summary['n']})", "", f"winner A {w['A']}, B {w['B']}, tie {w['tie']}; "
             f"no verdict {summary['undecided']}"]  # fmt: skip
    if "consistent" in summary:
        lines.append(f"both orders agreed on {summary['consistent']:.1%} of pairs; the edit shown first won "
                     + ("–" if summary["first_shown_wins"] is None else f"{summary['first_shown_wins']:.1%}")
                     + " of decided verdicts (50% is no position bias)")  # fmt: skip
    return lines
