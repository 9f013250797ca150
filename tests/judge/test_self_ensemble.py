"""Self-ensembles (``judge.samples=K``): K seeded replies per judgement and their mean; the same replies on a
rerun, a resume and any number of ranks; a reply without a score left out and counted; logit mode refused."""

from __future__ import annotations

import pytest

from evaluator.config.checks import check_judge
from evaluator.config.compose import compose
from evaluator.judge.stage import run
from evaluator.runtime.errors import ConfigError
from evaluator.scoring.parsing import Parsed
from evaluator.scoring.rows import add_samples, new_parts, result_row
from evaluator.scoring.schemes import Scheme

from ..conftest import assert_ok, read_jsonl, run_cli

ARGS = ["model=tiny", "trainer=cpu", "data.num_workers=0", "report=false", "data.limit=4", "judge.samples=4",
        "judge.temperature=1.0", "model.max_new_tokens=6"]  # fmt: skip


def test_the_mean_leaves_out_replies_without_a_score_and_counts_them():
    scheme = Scheme.from_config(compose(["judge=score10", "judge.samples=3"]).judge)
    parts = new_parts()
    parsed = [{"score": Parsed(6.0)}, {"score": Parsed(None, "unparseable")}, {"score": Parsed(9.0)}]
    add_samples(parts, "overall", ["a", "<think>t</think>b", "c"], parsed)
    row = result_row(scheme, parts)
    assert row["score"] == 7.5 and row["error"] is None
    assert row["score_samples"] == [6.0, None, 9.0] and row["samples_unparsed"] == 1
    assert row["response"] == ["a", "b", "c"] and row["thinking"] == [None, "t", None]
    none = new_parts()
    add_samples(none, "overall", ["x", "y"], [{"score": Parsed(None, "unparseable")}] * 2)
    assert result_row(scheme, none)["score"] is None and result_row(scheme, none)["error"] == "unparseable"


def test_logit_mode_with_samples_stops_in_one_line():
    with pytest.raises(ConfigError, match=r"judge\.samples=4 averages sampled replies; logit mode is deterministic"):
        check_judge(compose(["model=tiny", "judge.mode=logits", "judge.samples=4"]), checkpoint=False)


def _rows(folder):
    return {r["id"]: {k: r[k] for k in ("response", "score_samples", "score", "samples_unparsed")}
            for r in read_jsonl(folder / "results.jsonl")}  # fmt: skip


@pytest.mark.slow
def test_four_seeded_samples_are_the_same_on_a_rerun_a_resume_and_two_ranks(tmp_path, restore_environ):
    one = tmp_path / "one"
    run(compose([*ARGS, f"out_dir={one}"]))
    rows = _rows(one)
    assert len(rows) == 4 and all(len(r["response"]) == 4 and len(r["score_samples"]) == 4 for r in rows.values())
    assert any(len(set(r["response"])) > 1 for r in rows.values())  # sampled, not four greedy copies
    again = tmp_path / "again"
    run(compose([*ARGS, f"out_dir={again}", "resume=false"]))
    assert _rows(again) == rows
    resumed = tmp_path / "resumed"  # two rows first, then the other two by a resume
    run(compose([*ARGS, f"out_dir={resumed}", "data.limit=2"]))
    run(compose([*ARGS, f"out_dir={resumed}"]))
    assert _rows(resumed) == rows
    ranks = tmp_path / "ranks"
    assert_ok(run_cli([*ARGS, "data.batch_size=1", f"out_dir={ranks}"], nproc=2))
    assert _rows(ranks) == rows
