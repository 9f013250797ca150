"""Thinking judges: the score is read after the ``<think>`` trace, the trace kept apart, a trace cut by the token
limit an error that says so; logit mode refused in one line."""

from __future__ import annotations

import pytest

from evaluator.config.checks import check_judge
from evaluator.config.compose import compose
from evaluator.runtime.errors import ConfigError
from evaluator.scoring.parsing import THINKING_CUT, split_thinking
from evaluator.scoring.rows import add_reply, new_parts, parse_reply, result_row
from evaluator.scoring.schemes import Scheme


def _scheme(name="score10", *overrides):
    return Scheme.from_config(compose([f"judge={name}", *overrides]).judge)


@pytest.mark.parametrize(
    ("reply", "score", "error", "thinking", "response"),
    [
        (
            '<think>Maybe {"score": 2}? No: the sky is blue now.</think>\n{"reason": "ok", "score": 8}',
            8,
            None,
            'Maybe {"score": 2}? No: the sky is blue now.',
            '{"reason": "ok", "score": 8}',
        ),
        # The chat template wrote <think> into the prompt: the reply holds only its end.
        (
            'weighing {"a": {"b": 1}} and 3/10 ...\n</think>\n\n{"score": 6}',
            6,
            None,
            'weighing {"a": {"b": 1}} and 3/10 ...',
            '{"score": 6}',
        ),
        (
            '<think>The edit is good, I would say {"score": 9',
            None,
            THINKING_CUT,
            'The edit is good, I would say {"score": 9',
            "",
        ),
        ('<think>a</think><think>b</think>{"score": 4}', 4, None, "a</think><think>b", '{"score": 4}'),
        ('{"score": 5}', 5, None, None, '{"score": 5}'),
        ("<think>fine</think>\nno number here", None, "unparseable", "fine", "no number here"),
    ],
)
def test_the_score_comes_from_the_answer_after_the_trace(reply, score, error, thinking, response):
    scheme = _scheme()
    parsed = parse_reply(scheme, reply, ("score",))
    assert (parsed["score"].score, parsed["score"].error) == (score, error)
    parts = new_parts()
    add_reply(parts, "overall", reply, parsed)
    row = result_row(scheme, parts)
    assert row["score"] == score and row.get("thinking") == thinking and row["response"] == response
    assert (row["error"] is None) == (error is None)


def test_an_official_parser_reads_after_the_trace_too():
    scheme = _scheme("viescore", "judge.parser=viescore")
    keys = scheme.judgements[0].keys
    reply = '<think>[1, 1] would be harsh</think>\n{"score": [8, 9], "reasoning": "fine"}'
    assert parse_reply(scheme, reply, keys)[keys[0]].error is None
    assert split_thinking(reply).answer.startswith('{"score": [8, 9]')


def test_logit_mode_on_a_thinking_judge_stops_in_one_line():
    cfg = compose(["model=qwen3_vl_8b_thinking", "judge.mode=logits"])
    with pytest.raises(ConfigError, match=r"thinks .* before its verdict; .*use judge\.mode=generate"):
        check_judge(cfg, checkpoint=False)
    for size in ("2b", "4b", "8b", "32b", "30b_a3b", "235b_a22b"):
        model = compose([f"model=qwen3_vl_{size}_thinking"]).model
        assert model.thinking and model.name_or_path.endswith("-Thinking")
