"""Logit mode through a server: a score's distribution from the log-probabilities the server returns.

Two ways. Pre-filled (``backend=vllm``, ``api.prefill=true``): the reply is pre-filled up to the score, as the
local judge's is, and the server continues it (vLLM's ``continue_final_message``); the next token's probabilities
for the digits (exact where the server is asked for those tokens by id, else among its top alternatives), and
those after each leading digit ("1" of "10"), give the distribution by the local judge's own formula
(``prefilled_distribution``). Otherwise the judge writes its reply (greedy) and the server returns each token's
most likely alternatives (``top_logprobs``): at the token where a score's value begins (after ``"key":``), the
alternatives that are integers on the scale give its distribution; a value written as two tokens takes the second
token's probability on the path the judge took (``score_distribution``). Either way the expected score is over the
scale's values, renormalised, as in local logit mode.
"""

from __future__ import annotations

import math
import re

from evaluator.scoring.rows import ScoreDistribution


def scale_values(low: float, high: float) -> list[int]:
    """The integer scores of a scale; logit scoring supports integer scales within 0..99."""
    if low != int(low) or high != int(high) or not 0 <= low <= high <= 99:
        raise ValueError(f"logit scoring needs an integer scale within 0..99, not {low}..{high}")
    return list(range(int(low), int(high) + 1))


def leading_digits(low: float, high: float) -> list[int]:
    """The first digits of the scale's two-digit scores: after each, the next token decides the score."""
    return sorted({v // 10 for v in scale_values(low, high) if v >= 10})


def prefilled_distribution(
    first: dict[str, float], after: dict[int, dict[str, float]], low: float, high: float
) -> ScoreDistribution | None:
    """A score's distribution from a pre-filled reply: ``first`` the probability of each digit ("0".."9") as the
    next token, ``after[d]`` the same once digit ``d`` is written (``leading_digits``); a missing digit has
    probability 0. As the local judge: P(10) = P("1") P("0" | "1"), P(1) = P("1") (1 - P(any digit | "1"))."""
    probs = {}
    for v in scale_values(low, high):
        if v >= 10:
            probs[v] = first.get(str(v // 10), 0.0) * after[v // 10].get(str(v % 10), 0.0)
        elif v in after:
            probs[v] = first.get(str(v), 0.0) * (1 - sum(after[v].get(str(d), 0.0) for d in range(10)))
        else:
            probs[v] = first.get(str(v), 0.0)
    return distribution_of(probs)


def distribution_of(probs: dict) -> ScoreDistribution | None:
    """The distribution of probabilities by value (not renormalised): the expected value renormalised over them,
    the most likely (the first on a tie), and the mass they hold; None when they hold none."""
    mass = sum(probs.values())
    if not mass > 0:
        return None
    expected = sum(v * p for v, p in probs.items()) / mass
    return ScoreDistribution(expected, max(probs, key=probs.get), mass, dict(probs))


def _digits(token: str) -> str | None:
    m = re.fullmatch(r"[\s\"']*(\d+)", token)
    return m.group(1) if m else None


def _value_token(tokens: list[dict], key: str) -> int | None:
    """The index of the token where ``key``'s value begins in the reply the tokens spell."""
    text, starts = "", []
    for t in tokens:
        starts.append(len(text))
        text += t["token"]
    m = re.search(rf"[\"']?{re.escape(key)}[\"']?\s*:\s*", text)
    if not m:
        return None
    for i, start in enumerate(starts):
        end = start + len(tokens[i]["token"])
        if end > m.end() and _digits(tokens[i]["token"].strip() or "x") is not None:
            return i
        if end > m.end():
            return None
    return None


def _probability(logprob) -> float | None:
    """A log-probability as a probability, or None where it is none (missing, not a number, NaN, or above 0 by
    more than rounding: ``exp(1000)`` overflows)."""
    if isinstance(logprob, bool) or not isinstance(logprob, (int, float)) or not math.isfinite(logprob):
        return None
    if logprob > 1e-6:
        return None
    return math.exp(min(logprob, 0.0))


def score_distribution(tokens: list[dict], key: str, low: float, high: float) -> ScoreDistribution | None:
    """The distribution of ``key``'s score from a reply's tokens (each ``{"token", "logprob", "top_logprobs":
    [{"token", "logprob"}]}``); None where the reply holds no such value or no alternative is a valid score."""
    i = _value_token(tokens, key)
    if i is None:
        return None
    chosen = _digits(tokens[i]["token"])
    follow = _digits(tokens[i + 1]["token"]) if i + 1 < len(tokens) else None
    q = _probability(tokens[i + 1].get("logprob")) if follow is not None else None
    if follow is not None and q is None:
        return None  # the second token of a two-token value has no usable probability: no distribution
    mass: dict[int, float] = {}
    for alt in tokens[i].get("top_logprobs") or [{"token": tokens[i]["token"], "logprob": tokens[i].get("logprob")}]:
        digits = _digits(alt.get("token") or "")
        p = _probability(alt.get("logprob"))
        if digits is None or p is None:
            continue
        if digits == chosen and follow is not None:  # a two-token value on the path taken: split by the next one
            values = [(int(digits + follow), p * q), (int(digits), p * (1 - q))]
        else:
            values = [(int(digits), p)]
        for v, pv in values:
            if low <= v <= high:
                mass[v] = mass.get(v, 0.0) + pv
    total = sum(mass.values())
    if total <= 0:
        return None
    expected = sum(v * p for v, p in mass.items()) / total
    return ScoreDistribution(expected, max(mass, key=mass.get), min(total, 1.0), dict(sorted(mass.items())))


def tokens_of(choice) -> list[dict] | None:
    """A chat completion choice's reply tokens with their top alternatives, as ``read`` takes them (None if the
    server sent none)."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    # A server may leave fields out or send other types; logprobs.read checks every value it uses.
    return [
        {"token": str(getattr(t, "token", "") or ""), "logprob": getattr(t, "logprob", None),
         "top_logprobs": [{"token": str(getattr(a, "token", "") or ""), "logprob": getattr(a, "logprob", None)}
                          for a in (getattr(t, "top_logprobs", None) or [])]}
        for t in content
    ]  # fmt: skip
