"""KRIS-Bench's reading of a reply (JSON, then its keyed and "n/5" forms; never a bare digit) and an item's score."""

import pytest

from evaluator.scoring.benchmark_parsers import parse_krisbench
from evaluator.scoring.krisbench import kris_item_criteria, normalised

ONE = ("consistency_score",)
DUAL = ("instruction_score", "knowledge_score")


@pytest.mark.parametrize(
    "reply, score",
    [
        ('{"consistency_score": 4, "reasoning": "kept"}', 4.0),
        ('Verdict:\n```json\n{"consistency_score": "3", "reason": "x"}\n```', 3.0),
        ("Consistency score: 2 because the sky changed.", 2.0),
        ("consistency_score：5", 5.0),  # its full-width colon
        ("I would give it 4/5.", 4.0),
        ("Overall 3 out of 5, one small change.", 3.0),
        ('{"consistency_score": null} and later 2/5', 2.0),  # JSON without a value: its fallbacks read on
    ],
)
def test_a_reply_is_read_as_its_scripts_read_it(reply, score):
    assert parse_krisbench(reply, ONE)["consistency_score"].score == score


@pytest.mark.parametrize(
    "reply, words",
    [
        ("Step 1 shows the edit; it looks right.", "unparseable"),  # its scripts would take the 1
        ("The images match in 5 ways.", "unparseable"),
        ('{"consistency_score": 4.5}', "no whole number"),  # its int() would cut it to 4
        ('{"consistency_score": "four"}', "no whole number"),
    ],
)
def test_no_score_is_guessed(reply, words):
    parsed = parse_krisbench(reply, ONE)["consistency_score"]
    assert parsed.score is None and words in parsed.error


def test_the_knowledge_reply_gives_two_scores_from_json_or_their_keys_only():
    both = parse_krisbench('{"instruction_score": 4, "knowledge_score": 2, "instruction_reasoning": "a"}', DUAL)
    assert (both["instruction_score"].score, both["knowledge_score"].score) == (4.0, 2.0)
    keyed = parse_krisbench('"instruction_score": 5, then "knowledge_score": 3', DUAL)
    assert (keyed["instruction_score"].score, keyed["knowledge_score"].score) == (5.0, 3.0)
    half = parse_krisbench('{"instruction_score": 4} and knowledge is 3/5', DUAL)  # its script reads no "3/5" here
    assert half["instruction_score"].score == 4.0 and half["knowledge_score"].score is None


def test_an_items_score_is_the_mean_of_what_it_was_asked():
    common = {"variants": {"consistency_score": "consist", "instruction_score": "instruction_following",
                           "dual_evaluation": None, "quality_score": "quality_as_original"}}  # fmt: skip
    out = kris_item_criteria(common, {"consistency_score": 5, "instruction_score": 2, "quality_score": 4})
    assert out == {"consistency_score": 5, "instruction_score": 2, "quality_score": 4, "knowledge_score": None,
                   "score": pytest.approx(11 / 3)}  # fmt: skip
    knowledge = {"variants": {"consistency_score": "consist", "instruction_score": None,
                              "dual_evaluation": "dual_evaluation", "quality_score": "quality_edited"}}  # fmt: skip
    assert kris_item_criteria(knowledge, {"consistency_score": 5, "instruction_score": 4, "quality_score": 4,
                                     "knowledge_score": 3})["score"] == 4.0  # fmt: skip
    assert (
        kris_item_criteria(knowledge, {"consistency_score": 5, "instruction_score": 4, "quality_score": 4})["score"]
        is None
    )
    assert [normalised(s) for s in (1, 3, 5)] == [0, 50, 100]
