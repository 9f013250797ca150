"""RISEBench's reading of a reply ("Final Score") and its arithmetic for one item, as its gpt_eval.py does them,
except that no score is guessed or shifted: a reply without one, or with several, is an error."""

import pytest

from evaluator.scoring.benchmark_parsers import parse_risebench, risebench_numbers
from evaluator.scoring.parsing import UNPARSEABLE
from evaluator.scoring.risebench import FREE_WEIGHTS, LOGICAL_WEIGHTS, STANDARD_WEIGHTS, complete, item_criteria


@pytest.mark.parametrize(
    "reply, numbers",
    [
        ("Reasons.\n\n**Final Score:** **4**", [4]),
        ("**Final Score**: 5/5", [5]),
        ("final score 0", [0]),
        ("Final Score: 4, 5", [4, 5]),
        ("Final Score: **\nlater Final Score: 3", [3]),  # the first run that holds digits
        ("Final Scores:\n 2\n", [2]),
        ("Final Score: x, Final Scores: x", []),  # its second pattern matched, and holds none
        ("I would give it a 4.", None),  # no fallback to any number in the reply
    ],
)
def test_the_reply_is_read_as_its_extract_reads_it(reply, numbers):
    assert risebench_numbers(reply) == numbers


def test_no_score_or_several_are_errors_never_a_guess():
    assert parse_risebench("**Final Score:** **3**").score == 3.0
    assert parse_risebench("I would give it a 4.").error == UNPARSEABLE
    assert parse_risebench("Final Scores: none").error == UNPARSEABLE
    assert "2 numbers" in parse_risebench("Final Score: 4, 5").error


def _item(category, variants, weights):
    names = ("ApprConsistency", "Reasoning", "VisualPlausibility")
    return {"category": category, "variants": dict(zip(names, variants, strict=True)), "score_weights": weights}


STANDARD = _item("temporal_reasoning", ("consist", "reasoning", "generation"), STANDARD_WEIGHTS)
FREE = _item("causal_reasoning", (None, "reasoning", "generation"), FREE_WEIGHTS)
LOGICAL = _item("logical_reasoning", ("logical_cons", "logical_img", None), LOGICAL_WEIGHTS)


@pytest.mark.parametrize(
    "item, scores, expected, done",
    [
        (STANDARD, (4, 5, 3), 0.3 * 4 + 0.5 * 5 + 0.2 * 3, 0),
        (STANDARD, (5, 5, 5), 5.0, 1),
        (STANDARD, (5, 1, 5), (0.3 * 5 + 0.5 + 0.2 * 5) * 0.5, 0),  # reasoning 1 halves
        (STANDARD, (1, 1, 1), 1.0, 0),  # halved to 0.5, floored at 1
        (FREE, (None, 5, 5), 5.0, 1),  # consistency not asked: complete on the other two
        (LOGICAL, (1, 0, None), (0.3 * 5 + 0.7 * 1) * 0.5, 0),  # 0/1 answers mapped to 1/5; reasoning 1 halves
        (LOGICAL, (3, 1, None), 5.0, 1),  # 4 * min(s, 1) + 1
        (STANDARD, (5, None, 5), None, 0),  # an asked judgement without a score: no score, not complete
        (_item("spatial_reasoning", (None, "spatial_ref", "spatial_qual"), STANDARD_WEIGHTS), (None, 5, 5), None, 1),
    ],
)  # fmt: skip
def test_the_item_score_and_completeness_follow_its_rules(item, scores, expected, done):
    out = item_criteria(item, dict(zip(("ApprConsistency", "Reasoning", "VisualPlausibility"), scores, strict=True)))
    assert out["score"] == (None if expected is None else pytest.approx(expected))
    assert complete(item, out) == done
