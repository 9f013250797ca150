"""Issue 28: after the first check, the local judge's own decode is the only one; a rerun that asks nothing
again reads no image at all (counted, not timed)."""

from __future__ import annotations

import pytest

from evaluator.config.compose import compose
from evaluator.inputs import image_checks, preflight
from evaluator.judge.stage import run
from evaluator.runtime import dataset

from ..conftest import read_jsonl

pytestmark = pytest.mark.slow


def test_each_image_decoded_once_for_the_judge_and_a_rerun_reads_none(tmp_path, monkeypatch, restore_environ):
    examined, decoded = [], []
    examine, load_rgb = image_checks.examine, dataset.load_rgb
    monkeypatch.setattr(preflight, "examine", lambda p, m: examined.append(p) or examine(p, m))
    monkeypatch.setattr(dataset, "load_rgb", lambda p, *a: decoded.append(p) or load_rgb(p, *a))
    monkeypatch.setattr(preflight, "image_facts_store", lambda: tmp_path / "checks.sqlite")
    out = tmp_path / "out"
    cfg = compose(["model=tiny", "trainer=cpu", "data.num_workers=0", "report=false", "judge.mode=logits",
                   f"out_dir={out}"])  # fmt: skip
    run(cfg)
    rows = read_jsonl(out / "results.jsonl")
    images = [r[role] for r in rows for role in ("source", "edited")]
    assert len(rows) == 18 and sorted(decoded) == sorted(images)  # one decode per image a row shows the judge
    assert sorted(examined) == sorted(set(images))  # one check per distinct file, shared sources once
    examined.clear(), decoded.clear()
    run(cfg)
    assert examined == [] and decoded == []
    assert len(read_jsonl(out / "results.jsonl")) == 18
