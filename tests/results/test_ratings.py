"""Bradley-Terry ratings: the order of the editors' strengths, finite for a perfect record, ties half a win."""

import itertools
import math
import random

import pytest

from evaluator.results.ratings import FIRST, SECOND, TIE, Verdict, rate


def test_a_strict_order_is_recovered_with_finite_ratings_and_a_full_win_rate_matrix():
    editors = ["e0", "e1", "e2", "e3"]
    verdicts = [Verdict(str(i), a, b, SECOND) for i in range(20) for a, b in itertools.combinations(editors, 2)]
    out = rate(verdicts, resamples=200)
    assert list(out["editors"]) == ["e3", "e2", "e1", "e0"]  # best first
    ratings = [out["editors"][e]["rating"] for e in editors]
    assert all(math.isfinite(r) for r in ratings) and ratings == sorted(ratings)
    assert abs(sum(ratings) / 4 - 1000) < 1e-6  # centred on 1000
    assert out["editors"]["e3"] | {"rating": 0, "ci95": 0} == {"rating": 0, "ci95": 0, "wins": 60, "losses": 0,
                                                               "ties": 0}  # fmt: skip
    assert out["win_rate"]["e3"]["e0"] == 1.0 and out["win_rate"]["e0"]["e3"] == 0.0


def test_strengths_are_recovered_within_their_intervals():
    rng = random.Random(0)
    strength = {"a": 0.0, "b": 1.0, "c": 2.0}
    verdicts = []
    for i in range(400):
        for x, y in itertools.combinations(strength, 2):
            p = 1 / (1 + math.exp(strength[y] - strength[x]))
            verdicts.append(Verdict(str(i), x, y, FIRST if rng.random() < p else SECOND))
    out = rate(verdicts, resamples=300)
    gap = 400 / math.log(10)  # one unit of strength on the Elo-like scale
    for x, y in (("a", "b"), ("b", "c")):
        lo_y, hi_y = out["editors"][y]["ci95"]
        assert lo_y <= out["editors"][y]["rating"] <= hi_y
        assert abs((out["editors"][y]["rating"] - out["editors"][x]["rating"]) - gap) < 0.25 * gap


def test_ties_are_half_a_win_and_equal_editors_rate_equal():
    verdicts = [Verdict(str(i), "x", "y", TIE) for i in range(10)]
    out = rate(verdicts, resamples=50)
    assert out["editors"]["x"]["rating"] == out["editors"]["y"]["rating"] == 1000.0
    assert out["editors"]["x"]["ties"] == 10 and out["win_rate"]["x"]["y"] == 0.5


def test_an_arena_that_falls_apart_says_so_once_and_in_its_ratings(caplog):
    from evaluator.results.ratings import ratings_of

    pairs = [{"sample_id": f"{i}", "editor_a": a, "editor_b": b, "winner": w}
             for i, (a, b, w) in enumerate([("x", "y", "A"), ("y", "z", "B"), ("p", "q", "tie"), ("p", "q", "A")])]  # fmt: skip
    caplog.set_level("WARNING", logger="evaluator")
    out = ratings_of(pairs)
    assert out["groups"] == [["x", "y", "z"], ["p", "q"]]
    assert caplog.text.count("fall into 2 groups that never met") == 1
    caplog.clear()
    assert ratings_of(pairs[:2])["groups"] == [["x", "y", "z"]] and "never met" not in caplog.text


def test_genarenas_anchor_puts_the_strengths_mean_at_1000_and_keeps_every_gap():
    strengths = {"a": 1.0, "b": 3.0, "c": 9.0}
    rng = random.Random(3)
    verdicts = []
    for n, (x, y) in enumerate(itertools.permutations(strengths, 2)):
        for k in range(60):
            won = rng.random() < strengths[x] / (strengths[x] + strengths[y])
            verdicts.append(Verdict(f"{n}-{k}", x, y, FIRST if won else SECOND))
    ours = rate(verdicts, resamples=20)["editors"]
    theirs = rate(verdicts, resamples=20, anchor="mean_strength")["editors"]
    assert sum(e["rating"] for e in ours.values()) / 3 == pytest.approx(1000, abs=0.02)
    # GenArena's: 1000 + 400 log10(p / mean(p)); the mean of the strengths 10^((r - 1000) / 400) is then 1.
    assert sum(10 ** ((e["rating"] - 1000) / 400) for e in theirs.values()) / 3 == pytest.approx(1, abs=1e-4)
    shift = theirs["a"]["rating"] - ours["a"]["rating"]
    assert shift < 0 and all(theirs[n]["rating"] - ours[n]["rating"] == pytest.approx(shift, abs=0.02) for n in ours)
