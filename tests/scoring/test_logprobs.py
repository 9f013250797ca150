import math

import pytest

from evaluator.scoring.logprobs import score_distribution


def _tokens(pieces, alternatives=None):
    """Reply tokens; ``alternatives`` maps a token's index to its top alternatives {token: probability}."""
    out = []
    for i, piece in enumerate(pieces):
        top = (alternatives or {}).get(i, {piece: 1.0})
        out.append({"token": piece, "logprob": math.log(top[piece]),
                    "top_logprobs": [{"token": t, "logprob": math.log(p)} for t, p in top.items()]})  # fmt: skip
    return out


def test_single_token_scores_and_a_two_token_ten_on_the_path_taken():
    one = _tokens(['{"', "score", '":', " 7", "}"], {3: {" 7": 0.6, " 8": 0.3, "x": 0.1}})
    d = score_distribution(one, "score", 0, 10)
    assert (
        d.expected == pytest.approx((0.6 * 7 + 0.3 * 8) / 0.9) and d.argmax == 7 and d.confidence == pytest.approx(0.9)
    )
    # Qwen writes 10 as "1", "0": P(10) = P("1") P("0" | "1"), P(1) = P("1") (1 - P("0" | "1")).
    ten = _tokens(['{"score": ', "1", "0", "}"], {1: {"1": 0.8, "9": 0.2}, 2: {"0": 0.75, "}": 0.25}})
    d = score_distribution(ten, "score", 0, 10)
    assert d.expected == pytest.approx(0.8 * 0.75 * 10 + 0.8 * 0.25 * 1 + 0.2 * 9) and d.argmax == 10


def test_no_value_or_no_valid_alternative_is_no_score():
    assert score_distribution(_tokens(["I cannot judge this."]), "score", 0, 10) is None
    assert score_distribution(_tokens(['{"score": ', "42", "}"]), "score", 0, 10) is None  # off the scale
    assert score_distribution(_tokens(['{"editing": ', "3", "}"]), "score", 0, 10) is None  # another key
