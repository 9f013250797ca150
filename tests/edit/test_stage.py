"""The editing stage as a user runs it: under torchrun, killed and resumed, rerun after a change, and in one job
with the judge (``evaluator.pipeline``)."""

import contextlib
import hashlib
import json
import os
import sys

import pytest

from evaluator.config.compose import compose
from evaluator.edit.stage import run

from ..conftest import DEMO_MANIFEST, assert_ok, kill_when, read_jsonl, run_cli
from ..faults import fault_args

N_DEMO = len(DEMO_MANIFEST.read_text().splitlines())
EDIT = ["editor=tiny", "trainer=cpu", "data.num_workers=0"]


def _shard_rows(out_dir) -> list[dict]:
    rows = []
    for shard in sorted((out_dir / "shards").glob("rank-*.jsonl")):
        for line in shard.read_text().splitlines():
            with contextlib.suppress(ValueError):  # a line torn by a kill
                rows.append(json.loads(line))
    return rows


def _edits(out_dir) -> dict[str, str]:
    """Every edit's SHA-256, by file name."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out_dir / "edits").glob("*.png"))}


@pytest.mark.slow
def test_three_ranks_edit_every_row_once_as_one_process_does_at_another_batch_size(tmp_path, restore_environ):
    proc = run_cli([*EDIT, f"out_dir={tmp_path}/three"], nproc=3, module="evaluator.edit")
    assert_ok(proc)
    three = tmp_path / "three"
    rows = _shard_rows(three)
    assert sorted(r["id"] for r in rows) == sorted({r["id"] for r in rows}) and len(rows) == N_DEMO
    assert sorted({r["rank"] for r in rows}) == [0, 1, 2]
    edits = _edits(three)
    assert len(edits) == N_DEMO and len(set(edits.values())) == N_DEMO  # every id its own noise
    manifest = read_jsonl(three / "manifest.jsonl")
    assert [r["id"] for r in manifest] == [json.loads(x)["id"] for x in DEMO_MANIFEST.read_text().splitlines()]
    assert all((three / r["edited"]).is_file() and (three / r["source"]).is_file() for r in manifest)
    assert not any("follows" in r for r in manifest)  # the demo's labels describe its own edits, not these
    summary = json.loads((three / "summary.json").read_text())
    assert (summary["rows"], summary["edited"], summary["failed"]) == (N_DEMO, N_DEMO, 0)

    run(compose([*EDIT, "editor.batch_size=5", f"out_dir={tmp_path}/one"], "edit"))  # one process, in this one
    assert _edits(tmp_path / "one") == edits  # byte for byte


@pytest.mark.slow
def test_a_killed_run_then_a_rerun_makes_only_the_missing_edits(tmp_path, restore_environ):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "evaluator.edit", *EDIT, f"out_dir={out}", *fault_args(delay=0.5)]
    kill_when(cmd, lambda: len(_shard_rows(out)) >= 4)
    before = {r["id"]: r["sha256"] for r in _shard_rows(out)}
    assert 4 <= len(before) < N_DEMO
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "edits").glob("*.png")}

    run(compose([*EDIT, f"out_dir={out}"], "edit"))
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["reused"], summary["edited"]) == (len(before), N_DEMO - len(before))
    made_now = [r["id"] for r in _shard_rows(out)][len(before) :]
    assert sorted(made_now + list(before)) == sorted({*made_now, *before}) and len(made_now) + len(before) == N_DEMO
    rows = {r["id"]: r for r in read_jsonl(out / "edits.jsonl")}
    for sample_id, sha in before.items():  # the edits of the killed run stand, untouched
        assert rows[sample_id]["sha256"] == sha
        name = os.path.basename(rows[sample_id]["edited"])
        assert (out / "edits" / name).stat().st_mtime_ns == stamps[name]


def test_a_changed_row_or_a_replaced_edit_is_made_again_and_nothing_else(tmp_path, restore_environ):
    rows = [json.loads(x) for x in DEMO_MANIFEST.read_text().splitlines()][:4]
    for r in rows:
        r["source"] = str(DEMO_MANIFEST.parent / r["source"])
    manifest = tmp_path / "rows.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    base = [*EDIT, "data=manifest", f"data.path={manifest}", "data.allow_outside_root=true", f"out_dir={out}"]
    run(compose(base, "edit"))
    first = _edits(out)
    rows[1]["instruction"] = "Something else entirely."
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    replaced = out / "edits" / f"{rows[3]['id']}.png"
    replaced.write_bytes((out / "edits" / f"{rows[0]['id']}.png").read_bytes())  # another file under its name
    run(compose([*base, "editor.batch_size=1"], "edit"))
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["reused"], summary["edited"]) == (2, 2)
    again = _edits(out)
    assert again[f"{rows[0]['id']}.png"] == first[f"{rows[0]['id']}.png"]
    assert again[f"{rows[3]['id']}.png"] == first[f"{rows[3]['id']}.png"]  # made again, as before: same seed
    assert again[f"{rows[1]['id']}.png"] != first[f"{rows[1]['id']}.png"]  # another instruction, another edit


@pytest.mark.slow
def test_pipeline_edits_then_judges_under_torchrun(tmp_path):
    args = [*EDIT, "model=tiny", "judge.mode=logits", "report=false", f"edit_dir={tmp_path}/edits",
            f"out_dir={tmp_path}/judged"]  # fmt: skip
    proc = run_cli(args, nproc=2, module="evaluator.pipeline")
    assert_ok(proc)
    results = read_jsonl(tmp_path / "judged" / "results.jsonl")
    assert len(results) == N_DEMO and all(r["score"] is not None and r["error"] is None for r in results)
    assert {os.path.dirname(r["edited"]) for r in results} == {str(tmp_path / "edits" / "edits")}
    assert "name_or_path: tiny:instruct_pix2pix" in (tmp_path / "judged" / "editor.yaml").read_text()
    summary = json.loads((tmp_path / "judged" / "summary.json").read_text())
    assert summary["editor"]["editor"]["num_inference_steps"] == 2
    assert "judging the edits in" in proc.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "editor= is required; one of flux_kontext, instruct_pix2pix, qwen_image_edit, tiny"),
        (["editor=tiny", "editor.num_inference_steps=0"], "editor.num_inference_steps is a positive integer, not 0"),
        (["editor=tiny", "editor.resolution=4"], "editor.resolution is null (the source's size) or at least 8"),
        (["editor=tiny", "data=manifest"], "data=manifest needs data.path=..."),
        (["editor=tiny", "trainer.gpus_per_replica=2"], "an editor runs one full pipeline per process"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2(args, expected):
    proc = run_cli(args, module="evaluator.edit", timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and expected in lines[0], proc.stderr
