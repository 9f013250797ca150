import json
import logging

from evaluator.config.compose import compose
from evaluator.inputs.samples import Sample
from evaluator.judge.stage import run
from evaluator.results import resume
from evaluator.results.plan import Plan, merge_rows

from ..conftest import DEMO_MANIFEST, read_jsonl


def _shard_rows(out_dir) -> int:
    return sum(len(p.read_text().splitlines()) for p in (out_dir / resume.SHARDS).glob("rank-*.jsonl"))


def test_a_change_that_changes_a_score_rescores_and_others_resume(tmp_path, restore_environ):
    """Behaviour, not the hashed keys: every setting that changes a score makes a rerun score everything again;
    batch size and workers do not."""
    base = ["model=tiny", "trainer=cpu", "data.num_workers=0", "report=false", f"out_dir={tmp_path}"]
    n = len(DEMO_MANIFEST.read_text().splitlines())
    run(compose(base))
    assert _shard_rows(tmp_path) == n
    run(compose([*base, "data.batch_size=7"]))
    assert _shard_rows(tmp_path) == n  # nothing scored again
    changes = ["judge.system=Be lenient.", "judge.mode=logits", "model.max_new_tokens=9", "data.max_pixels=4096",
               "data.resize_edited=true", "seed=1"]  # fmt: skip
    for k, change in enumerate(changes, start=2):
        run(compose([*base, change]))
        assert _shard_rows(tmp_path) == k * n, change
    assert len(read_jsonl(tmp_path / "results.jsonl")) == n


def test_read_previous_skips_torn_lines_and_other_settings(tmp_path, caplog):
    shards = tmp_path / resume.SHARDS
    shards.mkdir()
    (shards / "rank-0.jsonl").write_text(
        json.dumps({"id": "a", "score": 1.0, "digest": "d", "fingerprint": "fp"}) + "\n"
        + json.dumps({"id": "b", "score": 2.0, "digest": "d", "fingerprint": "old"}) + "\n"
        + '{"id": "c", "score": 3.0, "finger'  # killed mid-write
    )  # fmt: skip
    (shards / "rank-5.jsonl").write_text(
        json.dumps({"id": "d", "score": 4.0, "digest": "d", "fingerprint": "fp"}) + "\n"
    )
    with caplog.at_level(logging.WARNING, logger="evaluator.results.resume"):
        rows = resume.read_previous(tmp_path, "fp")
    assert rows == {
        "a": {"id": "a", "score": 1.0, "digest": "d"},
        "d": {"id": "d", "score": 4.0, "digest": "d"},
    }  # shards of any world size
    assert "ignoring unreadable line 3" in caplog.text


def test_merge_takes_earlier_rows_for_what_was_not_rescored():
    a, b, c = (Sample(id=i, source="s", edited="e", instruction="x", row=n) for n, i in enumerate("abc", start=1))
    fresh = [[{"id": "b", "score": 5.0, "rank": 0}]]
    previous = {"a": {"id": "a", "score": 1.0, "rank": 3}, "c": {"id": "c", "score": 2.0, "rank": 4}}
    rows = merge_rows(fresh, Plan(todo=[b], done=[a, c], previous=previous))
    assert [(r["id"], r["score"], r["rank"]) for r in rows] == [("a", 1.0, 3), ("b", 5.0, 0), ("c", 2.0, 4)]
