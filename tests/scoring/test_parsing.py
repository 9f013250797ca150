import pytest

from evaluator.scoring.benchmark_parsers import parse_imgedit, parse_viescore
from evaluator.scoring.parsing import UNPARSEABLE, parse_labels, parse_score


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"reason": "The sky is now blue and nothing else changed.", "score": 9}', 9),
        ('```json\n{"reason": "Half done.", "score": 5}\n```', 5),
        ('Here is my verdict: {"score": "7", "reason": "good"} Thanks!', 7),
        ('{"reason": "Partly; 2 of the 3 cats were removed.", "score": 6.5}', 6.5),
        ("Score: 7/10", 7),
        ("The edit removes 2 of 3 cats. Overall score = 4", 4),
        ("**Score:** 8\nReason: the frame is there but too thin (3 px).", 8),
        ("I would rate this edit 7/10 because the border is red but thin.", 7),
        ("8", 8),
        ("The instruction was followed well. 9.", 9),
        ('{"score": 0, "reason": "ignored"}', 0),
        ('{"score": 10, "reason": "perfect"}', 10),
    ],
)
def test_scores_from_realistic_replies(reply, expected):
    parsed = parse_score(reply, 0, 10)
    assert parsed.error is None
    assert parsed.score == expected


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "The edit looks fine to me.",
        "The image shows 3 cats, and 2 of them are now black; the instruction asked for 1.",  # prose, several numbers
        "Score: 3. On reflection, score: 8.",  # conflicting scores are no score
        '{"reason": "no score key here", "verdict": 7, "confidence": 3}',
        "I'd give it 4/5.",  # wrong scale: neither 4 nor 5 is a score out of 10
        '{"score": true}',
    ],
)
def test_no_score_is_unparseable_never_invented(reply):
    parsed = parse_score(reply, 0, 10)
    assert parsed.score is None
    assert parsed.error == UNPARSEABLE


@pytest.mark.parametrize(("reply", "value"), [('{"score": 12}', "12"), ("Score: -1", "-1"), ("Score: 11/10", "11")])
def test_out_of_range_scores_are_errors(reply, value):
    parsed = parse_score(reply, 0, 10)
    assert parsed.score is None
    assert parsed.error == f"out of range: {value}"


def test_other_scale_and_key():
    assert parse_score('{"quality": 4}', 1, 5, key="quality").score == 4
    assert parse_score("quality: 3/5", 1, 5, key="quality").score == 3
    assert parse_score("quality: 0", 1, 5, key="quality").error == "out of range: 0"


def test_several_scores_from_one_reply():
    from evaluator.scoring.parsing import parse_scores

    keys = ("editing", "overediting")
    got = parse_scores('{"reason": "ok", "editing": 8, "overediting": 6}', keys)
    assert {k: v.score for k, v in got.items()} == {"editing": 8, "overediting": 6}
    got = parse_scores('{"score": [7, 3], "reasoning": "VIEScore style"}', keys)
    assert {k: v.score for k, v in got.items()} == {"editing": 7, "overediting": 3}
    got = parse_scores("editing: 9\noverediting: 12", keys)
    assert got["editing"].score == 9 and got["overediting"].error == "out of range: 12"
    # An unlabelled number cannot be told apart between two keys: it is no score.
    got = parse_scores("I'd say 7.", keys)
    assert all(v.error == UNPARSEABLE for v in got.values())
    assert parse_scores("score: 4", ("score",))["score"].score == 4


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('||V^=^V||{"score": [7, 4], "reasoning": "x"}||V^=^V||', 4.0),  # between the delimiters; the minimum
        ('noise {"a": 1} then ||V^=^V|| {"score": [9, 8]} ||V^=^V|| {"score": [1, 1]}', 8.0),
        ('Sure! {"reasoning": "nested {braces}", "score": [6, 9]} done', 6.0),  # the outermost braces
        ("I would say [5, 3] overall.", 3.0),  # a bare list
        ('{"score": [12, 11]}', 11.0),  # no range check, as in the benchmark
        ('{"score": 7}', None),  # the benchmark's min() of a bare number fails: no score
        ('{"score": []}', None),
        ("no scores at all", None),
        ('{"score": [5, "x"]}', None),
    ],
)
def test_viescore_parser_reads_replies_as_the_benchmark(reply, expected):
    parsed = parse_viescore(reply)
    assert parsed.score == expected
    assert (parsed.error is None) == (expected is not None)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Prompt Compliance: 4\nVisual Naturalness: 3\nPhysical & Detail Coherence: 3", 3.33),
        ("Brief reasoning: fine.\nA: 5\nB: 4", 4.5),  # a reasoning line has no integer after ': '
        ("A: 4/5\nB:3\nD: 2.5", None),  # none of these is `text: integer`
        ("A: 4/5\nC : 2", 2.0),  # "C " is text too
        ("A: ²\nB: 5", 5.0),  # a superscript is a digit to Python, not an integer
        ("nothing", None),
    ],
)
def test_imgedit_parser_averages_criterion_lines_as_step1(reply, expected):
    assert parse_imgedit(reply).score == expected


VERDICTS = {"A": 1.0, "tie": 0.5, "B": 0.0}


@pytest.mark.parametrize(
    "reply, value",
    [
        ('{"reasoning": "A keeps the face", "winner": "A"}', 1.0),
        ('```json\n{"winner": " Tie "}\n```', 0.5),
        ("**Winner**: b", 0.0),
        ('{"winner": "C"}', None),  # no such verdict
        ("winner: A, no wait, winner: B", None),  # conflicting verdicts are none
        ("A is better.", None),  # unlabelled words are not read
        ('{"winner": 1}', None),
    ],
)
def test_verdict_words_are_read_under_their_key_or_not_at_all(reply, value):
    [parsed] = parse_labels(reply, ("winner",), VERDICTS).values()
    assert parsed.score == value and (parsed.error is None) == (value is not None)
