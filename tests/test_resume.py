import json
import logging

from omegaconf import OmegaConf

from evaluator import resume
from evaluator.benchmarks import Loaded
from evaluator.config import CONF_DIR
from evaluator.data import Sample
from evaluator.run import merge_rows


def _cfg(**over):
    cfg = OmegaConf.create(
        {
            "model": OmegaConf.load(CONF_DIR / "model" / "tiny.yaml"),
            "judge": OmegaConf.load(CONF_DIR / "judge" / "score10.yaml"),
            "data": {"batch_size": 4, "resize_edited": False, "max_image_pixels": 10, "min_image_side": 8},
            "seed": 0,
        }
    )
    for key, value in over.items():
        OmegaConf.update(cfg, key, value)
    return cfg


def test_fingerprint_follows_what_changes_a_score():
    base = resume.fingerprint(_cfg())
    assert resume.fingerprint(_cfg(**{"data.batch_size": 16})) == base  # batch size does not change a score
    for change in (
        {"model.dtype": "bfloat16"},
        {"model.name_or_path": "Qwen/Qwen3-VL-8B-Instruct"},
        {"model.max_new_tokens": 64},
        {"judge.system": "Be lenient."},
        {"judge.mode": "logits"},
        {"data.max_image_pixels": 20},
    ):
        assert resume.fingerprint(_cfg(**change)) != base, change


def test_read_previous_skips_torn_lines_and_other_settings(tmp_path, caplog):
    shards = tmp_path / resume.SHARDS
    shards.mkdir()
    (shards / "rank-0.jsonl").write_text(
        json.dumps({"id": "a", "score": 1.0, "fingerprint": "fp"}) + "\n"
        + json.dumps({"id": "b", "score": 2.0, "fingerprint": "old"}) + "\n"
        + '{"id": "c", "score": 3.0, "finger'  # killed mid-write
    )  # fmt: skip
    (shards / "rank-5.jsonl").write_text(json.dumps({"id": "d", "score": 4.0, "fingerprint": "fp"}) + "\n")
    with caplog.at_level(logging.WARNING, logger="evaluator.resume"):
        rows = resume.read_previous(tmp_path, "fp")
    assert rows == {"a": {"id": "a", "score": 1.0}, "d": {"id": "d", "score": 4.0}}  # shards of any world size
    assert "ignoring unreadable line 3" in caplog.text


def test_merge_takes_earlier_rows_for_what_was_not_rescored():
    samples = [Sample(id=i, source="s", edited="e", instruction="x", row=n) for n, i in enumerate("abc", start=1)]
    fresh = [[{"index": 0, "id": "b", "score": 5.0, "rank": 0}]]
    previous = {"a": {"id": "a", "score": 1.0, "rank": 3}, "c": {"id": "c", "score": 2.0, "rank": 4}}
    rows = merge_rows(fresh, Loaded(samples), previous)
    assert [(r["id"], r["score"], r["rank"]) for r in rows] == [("a", 1.0, 3), ("b", 5.0, 0), ("c", 2.0, 4)]
