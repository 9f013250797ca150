"""Resume keyed on content, and one folder per data: a rerun never reuses a score for an input that changed."""

import json
import os
import shutil
import socket

import pytest
from PIL import Image

from evaluator.config.compose import compose
from evaluator.judge.stage import run
from evaluator.results import resume, run_folder
from evaluator.runtime.errors import ConfigError

from ..conftest import DEMO_MANIFEST, read_jsonl
from ..fixtures import data_cfg

BASE = ["model=tiny", "trainer=cpu", "data.num_workers=0", "report=false", "judge.mode=logits", "data=manifest"]


def _editor(folder, colour, n=5):
    """An editor's folder: the first n demo pairs, every edit replaced by a flat picture of ``colour``."""
    folder.mkdir(parents=True)
    rows = [json.loads(x) for x in DEMO_MANIFEST.read_text().splitlines()[:n]]
    (folder / "images").mkdir()
    for r in rows:
        shutil.copy(DEMO_MANIFEST.parent / r["source"], folder / r["source"])
        Image.new("RGB", (64, 64), colour).save(folder / r["edited"])
    (folder / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "pairs.jsonl"


def _scores(out_dir):
    return {r["id"]: r["score"] for r in read_jsonl(out_dir / "results.jsonl")}


def _shard_rows(out_dir) -> int:
    return sum(len(p.read_text().splitlines()) for p in (out_dir / resume.SHARDS).glob("rank-*.jsonl"))


def test_two_editors_with_the_same_ids_get_their_own_scores(tmp_path, restore_environ, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default out_dir is relative to the current folder
    a, b = _editor(tmp_path / "A", (250, 0, 0)), _editor(tmp_path / "B", (0, 0, 250))
    out_a = run(compose([*BASE, f"data.path={a}"]))
    before = (out_a / "results.jsonl").read_bytes()
    out_b = run(compose([*BASE, f"data.path={b}"]))
    assert (out_a / "results.jsonl").read_bytes() == before  # A's results left intact
    assert out_a != out_b  # the default folder names the data, so editor B never lands in editor A's folder
    fresh_b = run(compose([*BASE, f"data.path={b}", f"out_dir={tmp_path}/fresh"]))
    assert _scores(out_b) == _scores(fresh_b) != _scores(out_a)  # B's own scores, equal to a fresh run
    assert next(r["edited"] for r in read_jsonl(out_a / "results.jsonl")).startswith(str(tmp_path / "A"))


def test_a_folder_of_other_data_is_refused_unless_resume_false(tmp_path, restore_environ):
    a, b = _editor(tmp_path / "A", (250, 0, 0)), _editor(tmp_path / "B", (0, 0, 250))
    out = tmp_path / "out"
    run(compose([*BASE, f"data.path={a}", f"out_dir={out}"]))
    scores_a = _scores(out)
    with pytest.raises(ConfigError, match=f"out_dir={out} holds the results of other data \\(path={a}"):
        run(compose([*BASE, f"data.path={b}", f"out_dir={out}"]))
    assert _scores(out) == scores_a  # A's results left intact
    run(compose([*BASE, f"data.path={b}", f"out_dir={out}", "resume=false"]))
    assert _scores(out) != scores_a


def test_a_changed_image_or_instruction_is_scored_again(tmp_path, restore_environ, caplog):
    path = _editor(tmp_path / "A", (250, 0, 0))
    out = tmp_path / "out"
    args = [*BASE, f"data.path={path}", f"out_dir={out}"]
    run(compose(args))
    assert _shard_rows(out) == 5
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[1]["instruction"] = "Something else entirely."  # changed in place
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    Image.new("RGB", (64, 64), (0, 250, 0)).save(path.parent / rows[3]["edited"])  # same name, new picture
    caplog.set_level("INFO", logger="evaluator")
    run(compose(args))
    assert "2 of 5 samples changed since the last run; scoring them again" in caplog.text
    assert _shard_rows(out) == 7  # exactly the two changed rows were scored again
    assert len(read_jsonl(out / "results.jsonl")) == 5


def test_a_prompt_file_whose_text_changed_rescores(tmp_path, restore_environ):
    conf = tmp_path / "conf" / "judge"
    conf.mkdir(parents=True)
    prompt = tmp_path / "prompt.txt"
    prompt.write_text('Instruction: "$instruction". Reply {"score": N}.')
    scheme = {"defaults": ["judge_schema", "_self_"], "name": "mine", "system": "Judge.",
              "judgements": [{"name": "score", "user": [{"image": "edited"}, {"file": str(prompt)}]}]}  # fmt: skip
    (conf / "mine.yaml").write_text(json.dumps(scheme))
    args = [*BASE, f"data.path={_editor(tmp_path / 'A', (1, 2, 3))}", f"out_dir={tmp_path}/out", "judge=mine",
            f"hydra.searchpath=[file://{tmp_path / 'conf'}]"]  # fmt: skip
    run(compose(args))
    run(compose(args))
    assert _shard_rows(tmp_path / "out") == 5  # same text: resumed
    prompt.write_text('Instruction: "$instruction". Be harsh. Reply {"score": N}.')  # same path, other text
    run(compose(args))
    assert _shard_rows(tmp_path / "out") == 10


def test_shard_lines_of_the_wrong_shape_are_skipped(tmp_path, caplog):
    shards = tmp_path / resume.SHARDS
    shards.mkdir()
    good = {"id": "a", "score": 1.0, "error": None, "digest": "d", "fingerprint": "fp"}
    lines = [good, {**good, "id": 7}, {**good, "score": "high"}, {**good, "id": "c", "digest": None}, [1, 2], "x"]
    (shards / "rank-0.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    rows = resume.read_previous(tmp_path, "fp")
    assert list(rows) == ["a"]
    assert caplog.text.count("ignoring unreadable line") == 5


def test_lock_refuses_a_second_run_and_takes_over_a_dead_ones(tmp_path, caplog):
    first, second = run_folder.Lock(tmp_path), run_folder.Lock(tmp_path)
    first.acquire()
    with pytest.raises(ConfigError, match=f"in use by another run \\(pid {os.getpid()} on {socket.gethostname()}"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()
    dead = {"host": socket.gethostname(), "pid": 2**22 + 12345, "since": "yesterday"}  # no such process
    (tmp_path / run_folder.LOCK).write_text(json.dumps(dead))
    third = run_folder.Lock(tmp_path)
    third.acquire()
    assert (
        "taking over the lock" in caplog.text
        and json.loads((tmp_path / run_folder.LOCK).read_text())["pid"] == os.getpid()
    )
    third.release()
    assert not (tmp_path / run_folder.LOCK).exists()


def test_a_killed_runs_temporary_files_are_removed(tmp_path):
    (tmp_path / ".results.jsonl.tmp-4242").write_text("half")
    run_folder.claim(tmp_path, data_cfg(path=str(DEMO_MANIFEST)), resume=True)
    assert not (tmp_path / ".results.jsonl.tmp-4242").exists() and (tmp_path / run_folder.IDENTITY).exists()


def test_default_folder_names(tmp_path):
    a = run_folder.data_name(data_cfg(path="/data/A/pairs.jsonl"), tmp_path)
    b = run_folder.data_name(data_cfg(path="/data/B/pairs.jsonl"), tmp_path)
    assert a.startswith("manifest-A-pairs-") and b.startswith("manifest-B-pairs-") and a != b
    gedit = data_cfg(layout="gedit", metadata="m", results_root="r", model_name="editor/../a", language="en")
    assert run_folder.data_name(gedit, tmp_path) == "gedit-editor_.._a-en"


def test_runs_of_other_score_settings_get_default_folders_of_their_own(tmp_path):
    """Issue 19, trap 4: the generate-mode example replaced the logit-mode quick start's results."""
    import subprocess
    import sys

    from evaluator.config.compose import compose

    folders = {tuple(o): compose(["model=tiny", *o]).out_dir for o in
               ([], ["judge.mode=logits"], ["seed=1"], ["judge.mode=logits", "seed=1"], ["data.batch_size=2"])}  # fmt: skip
    assert folders[()] == "outputs/demo/tiny-score10" == folders[("data.batch_size=2",)]  # batching changes no score
    assert folders[("judge.mode=logits",)] == "outputs/demo/tiny-score10-logits"
    assert len(set(folders.values())) == 4
    # The command line names the same folders as compose() does.
    code = ("import sys; from evaluator.cli import entry; sys.argv = ['x', 'model=tiny', 'seed=1', '--cfg', 'job', "
            "'--resolve']; entry('eval', lambda c: None, 'evaluator.judge.stage:run')()")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert f"out_dir: {folders[('seed=1',)]}" in proc.stdout, proc.stderr[-2000:]
