"""Logit mode through a server: a score's distribution from the log-probabilities the server returns.

A server cannot be handed a reply pre-filled up to the score, as the local judge is, so the judge writes its
reply (greedy) and the server returns each token's most likely alternatives (``top_logprobs``). At the token
where a score's value begins (after ``"key":``), the alternatives that are integers on the scale give its
distribution; a value written as two tokens (Qwen writes "10" as "1", "0") takes the second token's probability
on the path the judge took. The expected score is over the scale's values, renormalised, as in local logit mode.
"""

from __future__ import annotations

import math
import re

from evaluator.logits import ScoreDistribution


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


def read(tokens: list[dict], key: str, low: float, high: float) -> ScoreDistribution | None:
    """The distribution of ``key``'s score from a reply's tokens (each ``{"token", "logprob", "top_logprobs":
    [{"token", "logprob"}]}``); None where the reply holds no such value or no alternative is a valid score."""
    i = _value_token(tokens, key)
    if i is None:
        return None
    chosen = _digits(tokens[i]["token"])
    follow = _digits(tokens[i + 1]["token"]) if i + 1 < len(tokens) else None
    mass: dict[int, float] = {}
    for alt in tokens[i]["top_logprobs"] or [{"token": tokens[i]["token"], "logprob": tokens[i]["logprob"]}]:
        digits = _digits(alt["token"])
        if digits is None:
            continue
        p = math.exp(alt["logprob"])
        if digits == chosen and follow is not None:  # a two-token value on the path taken: split by the next one
            q = math.exp(tokens[i + 1]["logprob"])
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
