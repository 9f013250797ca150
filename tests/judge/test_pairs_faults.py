"""Pairs and arena runs whose inputs are partly bad: every verdict stays with its own pair, a skipped row is a
counted pair of its own, and the run's bookkeeping never comes from an input column."""

import json

import pytest

from evaluator.config.checks import check_arena, check_editor_names, check_judge
from evaluator.config.compose import compose
from evaluator.judge.stage import run
from evaluator.runtime.errors import ConfigError

from ..api_server import Server
from ..conftest import read_jsonl
from .test_arena import _arena, make_editors
from .test_pairwise import _api, brighter, make_pairs


def _rewrite(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_duplicate_pair_is_its_own_error_row_and_the_first_keeps_its_verdict(tmp_path):
    pairs, expected = make_pairs(tmp_path / "data", n=4)
    rows = read_jsonl(pairs)
    bad_human = {**rows[2], "id": "h", "human": "maybe"}
    no_instruction = {**rows[3], "id": "n", "instruction": None}
    _rewrite(pairs, [*rows, {**rows[1], "edited_a": rows[0]["edited_a"]}, bad_human, no_instruction])
    out = tmp_path / "out"
    with Server(judge=brighter) as server:
        run(compose(_api(server, pairs, out, "judge=pairwise")))
    got = {p["id"]: p for p in read_jsonl(out / "pairs.jsonl")}
    assert list(got) == ["p0", "p1", "p2", "p3", "p1#row5", "h#row6", "n#row7"]
    assert {k: got[k]["winner"] for k in expected} == expected  # p1 judged, not replaced by its duplicate
    assert got["p1#row5"]["winner"] is None and got["p1#row5"]["error"] == "skipped: duplicate id"
    assert got["p1#row5"]["edited_a"].endswith("0-a.png")  # the skipped row shows what it compared
    assert got["h#row6"]["error"].startswith("skipped: human verdict")
    assert got["n#row7"]["error"] == "skipped: missing instruction"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pairs"]["n"] == 7 and summary["pairs"]["undecided"] == 3
    # The duplicate is an input's fault, not the judge's: counted apart, never as a wrong verdict.
    assert summary["agreement"]["n"] == 4 and summary["agreement"]["errors"] == 0
    assert summary["agreement"]["skipped"] == 3 and summary["agreement"]["accuracy"] == 0.75


def test_input_columns_named_like_the_runs_fields_never_steer_it(tmp_path, caplog):
    pairs, expected = make_pairs(tmp_path / "data", n=4)
    earlier = {"order": "AB", "candidate": "A", "pair_id": "zzz", "winner": "B", "p_a": 0.1, "score_a": 9,
               "second": "x.png", "error": "old", "score": 3}  # fmt: skip
    _rewrite(pairs, [{**r, **earlier} for r in read_jsonl(pairs)])
    out = tmp_path / "pairwise"
    caplog.set_level("INFO", logger="evaluator")
    with Server(judge=brighter) as server:
        run(compose(_api(server, pairs, tmp_path / "pointwise", "judge=score10")))
        run(compose(_api(server, pairs, out, "judge=pairwise")))
    for folder in (tmp_path / "pointwise", out):
        got = read_jsonl(folder / "pairs.jsonl")
        assert {p["id"]: p["winner"] for p in got} == expected  # every pair judged, by the run's own bookkeeping
        assert all(p["input.winner"] == "B" and p["input.order"] == "AB" and p["input.p_a"] == 0.1 for p in got)
        assert all(p["error"] is None for p in got)
    rows = read_jsonl(out / "results.jsonl")
    assert {r["order"] for r in rows} == {"AB", "BA"} and all(r["input.score"] == 3 for r in rows)
    assert "columns named like the run's own fields are kept under other names" in caplog.text


def test_a_manifest_column_named_second_or_like_a_criterion_is_kept_apart(tmp_path):
    from evaluator.inputs.manifest import read_manifest

    path = tmp_path / "m.jsonl"
    _rewrite(path, [{"id": 1, "source": "s.png", "edited": "e.png", "instruction": "x", "second": "t.png",
                     "SC": 7, "human": 4, "api_model": "gpt"}])  # fmt: skip
    [sample], problems = read_manifest(path, reserved=("SC", "PQ", "O"))
    assert problems == [] and sample.second is None and sample.images == ("source", "edited")
    assert sample.extra == {"input.second": "t.png", "input.SC": 7, "human": 4, "input.api_model": "gpt"}


def test_arena_pair_ids_cannot_collide_whatever_the_editor_names(tmp_path):
    with pytest.raises(ConfigError, match="would both be named a-vs-b-vs-c"):
        check_editor_names(["a", "b-vs-c", "a-vs-b", "c"])
    with pytest.raises(ConfigError, match="an editor's name takes letters"):
        check_editor_names(["a:b", "c"])
    check_editor_names(["flux-kontext", "qwen_image_edit", "step1x-v1.1"])
    editors = make_editors(tmp_path / "data", {"a": 40, "b-vs-c": 90, "a-vs-b": 140, "c": 190})
    with pytest.raises(ConfigError, match="would both be named"):
        check_arena(compose(_arena(Server(), editors, tmp_path / "out"), config_name="arena"))


def test_an_arena_whose_editors_edited_different_things_writes_every_output(tmp_path):
    editors = make_editors(tmp_path / "data", {"dim": 40, "bright": 140})
    rows = read_jsonl(tmp_path / "data" / "bright.jsonl")
    _rewrite(tmp_path / "data" / "bright.jsonl", [{**rows[0], "instruction": "Something else."}, *rows[1:]])
    out = tmp_path / "out"
    with Server(judge=brighter) as server:
        run(compose(_arena(server, editors, out), config_name="arena"))
    got = read_jsonl(out / "pairs.jsonl")
    assert got[0]["id"] == "s0:bright-vs-dim#row1" and got[0]["winner"] is None
    assert "edited different sources or instructions" in got[0]["error"]
    ratings = json.loads((out / "ratings.json").read_text())
    assert ratings["pairs"] == 12 and ratings["undecided"] == 1
    assert ratings["editors"]["bright"]["wins"] == 11


def test_a_pairwise_judge_on_a_plain_manifest_is_refused_before_anything_loads(tmp_path):
    with pytest.raises(ConfigError, match="judge=pairwise compares two edits in one prompt; it reads data=pairs"):
        check_judge(compose(["model=tiny", "judge=pairwise"]), checkpoint=False)


def test_without_a_human_column_the_run_says_why_there_is_no_agreement(tmp_path, caplog):
    caplog.set_level("INFO", logger="evaluator")
    pairs, _ = make_pairs(tmp_path / "data", n=2)
    _rewrite(pairs, [{k: v for k, v in r.items() if k != "human"} for r in read_jsonl(pairs)])
    with Server(judge=brighter) as server:
        run(compose(_api(server, pairs, tmp_path / "out", "judge=pairwise")))
    assert "no pair has a person's verdict" in caplog.text
    assert "agreement" not in json.loads((tmp_path / "out" / "summary.json").read_text())
