"""Cases found by breaking the evaluator as hostile users, careless users and broken servers would (issue 22).

Each test reproduced its defect before the fix: a score kept for changed weights, a lost input file, a write
outside the chosen folder, a cached non-finite score, a traceback, a hang or unbounded memory.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from evaluator.config.compose import compose
from evaluator.judge.qwen_vl import TINY_JUDGES
from evaluator.judge.stage import run
from evaluator.results import resume
from evaluator.runtime import hashing
from evaluator.scoring.schemes import Scheme

from ..conftest import read_jsonl


def _shard_rows(out_dir) -> list[dict]:
    return [r for p in sorted((out_dir / resume.SHARDS).glob("rank-*.jsonl")) for r in read_jsonl(p)]


def test_folder_digest_follows_the_bytes_and_caches_by_file_identity(tmp_path, monkeypatch):
    ckpt, cache = tmp_path / "ckpt", tmp_path / "cache"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    weights = ckpt / "model.safetensors"
    weights.write_bytes(b"a" * 1000)
    first = hashing.folder_digest(ckpt, cache)
    read, digest = [], hashing.file_digest
    monkeypatch.setattr(hashing, "file_digest", lambda p: read.append(p) or digest(p))
    assert hashing.folder_digest(ckpt, cache) == first
    assert read == []  # nothing read again: both files came from the cache
    stat = weights.stat()
    weights.write_bytes(b"b" * 1000)  # same size, then the old modification time put back
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert hashing.folder_digest(ckpt, cache) != first
    assert [p.name for p in read] == ["model.safetensors"]
    (cache / hashing.CACHE_FILE).unlink()
    os.mkfifo(cache / hashing.CACHE_FILE)  # a cache that is not a file is no cache, and no hang
    assert hashing.folder_digest(ckpt, cache) == hashing.folder_digest(ckpt, None)


def test_a_judge_saved_again_in_place_is_scored_again(tmp_path, restore_environ):
    """Issue 22 (1): a judge folder whose weights were overwritten kept its old scores ("resuming: 6 of 6")."""
    from safetensors.torch import load_file, save_file

    judge = tmp_path / "judge"
    shutil.copytree(TINY_JUDGES.resolve("tiny:qwen3_vl"), judge)
    out = tmp_path / "out"
    args = [f"model.name_or_path={judge}", "model.dtype=float32", "trainer=cpu", "data.num_workers=0", "report=false",
            "judge.mode=logits", "data.limit=4", f"out_dir={out}"]  # fmt: skip
    run(compose(["model=tiny", *args]))
    before = {r["id"]: r["score"] for r in read_jsonl(out / "results.jsonl")}
    weights = judge / "model.safetensors"
    tensors = load_file(weights)
    save_file({k: v.flip(0).contiguous() if v.ndim else v for k, v in tensors.items()}, weights,
              metadata={"format": "pt"})  # fmt: skip
    run(compose(["model=tiny", *args]))
    assert len(_shard_rows(out)) == 8  # every sample scored again, none resumed
    after = {r["id"]: r["score"] for r in read_jsonl(out / "results.jsonl")}
    assert before.keys() == after.keys() and before != after
    fp = resume.score_fingerprint(
        compose(["model=tiny", *args]), Scheme.from_config(compose(["model=tiny", *args]).judge)
    )
    assert {r["fingerprint"] for r in _shard_rows(out)[4:]} == {fp}


# --- Non-finite numbers (4) and hostile server replies (7, 8, held in part) ----------------------------------


def test_no_non_finite_score_reaches_a_row_or_the_shard(tmp_path):
    from evaluator.scoring.benchmark_parsers import parse_viescore
    from evaluator.scoring.parsing import parse_score
    from evaluator.scoring.rows import NOT_FINITE, add_reply, new_parts, parse_reply, result_row

    assert parse_score('{"score": NaN}').score is None and parse_score('{"score": Infinity}').score is None
    assert parse_viescore('{"score": [1e308, 1e308]}').score == 1e308  # as the benchmark reads it, no range
    scheme = Scheme.from_config(compose(["judge=viescore"]).judge)
    parts = new_parts()
    for j in scheme.judgements:
        reply = json.dumps(dict.fromkeys(j.keys, 1e308))
        add_reply(
            parts, j.name, reply, {k: type(v)(1e308, None) for k, v in parse_reply(scheme, reply, j.keys).items()}
        )
    row = result_row(scheme, parts)
    assert row["score"] is None and row["error"] == NOT_FINITE  # O = sqrt(SC * PQ) overflows: no score
    # A shard line written by an older version with a non-finite score is not resumed.
    shards = tmp_path / resume.SHARDS
    shards.mkdir()
    (shards / "rank-0.jsonl").write_text(
        '{"id": "a", "score": Infinity, "error": null, "digest": "d", "fingerprint": "fp"}\n'
        '{"id": "b", "score": NaN, "error": null, "digest": "d", "fingerprint": "fp"}\n'
        '{"id": "c", "score": 3.0, "error": null, "digest": "d", "fingerprint": "fp"}\n'
    )
    assert set(resume.read_previous(tmp_path, "fp")) == {"c"}
    writer = resume.ShardWriter(tmp_path, "fp", {"x": "d"})
    writer.open(1)
    writer.write([{"id": "x", "score": None, "error": "e", "confidence": float("nan")}])
    writer.close()
    assert "NaN" not in (shards / "rank-1.jsonl").read_text()


_NO_FOLLOW = object()


def _logprob_tokens(score_lp, follow_lp=_NO_FOLLOW):
    tokens = [{"token": t, "logprob": 0.0, "top_logprobs": []} for t in ('{"', "score", '":', " ")]
    tokens.append({"token": "7", "logprob": score_lp, "top_logprobs": [{"token": "7", "logprob": score_lp},
                                                                       {"token": "6", "logprob": -2.0}]})  # fmt: skip
    if follow_lp is not _NO_FOLLOW:  # "7" then "0": a two-token value
        tokens.append({"token": "0", "logprob": follow_lp, "top_logprobs": []})
    tokens.append({"token": "}", "logprob": 0.0, "top_logprobs": []})
    return tokens


@pytest.mark.parametrize("bad", [1000.0, float("nan"), None, "x", float("inf")])
def test_logprobs_a_server_should_not_send_are_left_out_not_a_crash(bad):
    from evaluator.scoring import logprobs

    dist = logprobs.score_distribution(_logprob_tokens(bad), "score", 0, 10)
    assert dist is not None and dist.expected == 6.0  # only the alternative with a real log-probability counts
    assert logprobs.score_distribution(_logprob_tokens(-0.1, follow_lp=bad), "score", 0, 10) is None


def test_a_reply_nested_100000_deep_is_unparseable_not_a_crash():
    from evaluator.scoring.benchmark_parsers import parse_viescore
    from evaluator.scoring.parsing import parse_score, parse_scores

    deep = "[" * 100_000 + "]" * 100_000
    reply = '{"score": ' + deep + "}"
    assert parse_score(reply).score is None
    assert parse_scores(reply, ("a", "b"))["a"].score is None
    assert parse_viescore(reply).score is None


KEY = "sk-test-SECRET-77d1e0aa"


def _api(server, out, *extra: str) -> list[str]:
    return ["backend=api", f"api.base_url={server.url}", "api.model=judge-model", "report=false", f"out_dir={out}",
            *extra]  # fmt: skip


def _files_text(folder) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_a_server_that_drips_one_byte_at_a_time_is_cut_off_at_the_timeout(tmp_path):
    import time

    from ..api_server import Server

    out = tmp_path / "out"
    with Server(faults={"": ["drip"] * 100}, hang=0.5) as server:
        start = time.monotonic()
        run(compose(_api(server, out, "api.timeout_s=1", "api.max_retries=0", "api.key_env=null")))
        elapsed = time.monotonic() - start
    rows = read_jsonl(out / "results.jsonl")
    assert len(rows) == 18 and all(r["score"] is None for r in rows)
    assert {r["error"] for r in rows} == {"api error: no complete reply within api.timeout_s=1 (0 retries)"}
    assert elapsed < 30  # 18 requests, 8 at a time, a second each; before the fix one request took 90 s


def test_a_server_that_quotes_the_key_has_it_masked_in_every_file(tmp_path, monkeypatch):
    from ..api_server import Server

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out = tmp_path / "out"
    with Server(faults={"": ["echo_auth"] * 100}) as server:
        run(compose([*_api(server, out), "report=true"]))
    rows = read_jsonl(out / "results.jsonl")
    assert all("You sent Bearer ***" in r["response"] for r in rows)
    assert all(r["score"] is not None for r in rows)
    assert "SECRET" not in _files_text(out)  # results, csv, summary, report, shards


def test_huge_replies_slow_retry_after_and_dropped_connections_stay_bounded(tmp_path):
    import time

    from ..api_server import Server

    out = tmp_path / "out"
    faults = {
        "": ["close", "close"],  # the probe's connection drops mid-reply: a failed request, not "is the server up?"
        "poster": ["huge"] * 5,
        "Rotate the image": ["slow_retry"],  # asks for a 1000 s wait
    }
    with Server(faults=faults, huge_bytes=20_000_000) as server:
        start = time.monotonic()
        run(compose(_api(server, out, "api.max_retries=1", "api.max_retry_wait_s=0.2", "api.key_env=null")))
        elapsed = time.monotonic() - start
    rows = read_jsonl(out / "results.jsonl")
    assert len(rows) == 18
    [probe] = [r for r in rows if "closed" in (r["error"] or "")]  # the first sample, asked alone
    assert probe["error"] == "api error: the server closed the connection before the reply was complete (1 retries)"
    huge = {r["error"] for r in rows if "poster" in r["instruction"]}
    assert huge == {"api error: response larger than api.max_response_bytes=8000000"}
    assert all(r["score"] is not None for r in rows if "Rotate" in r["instruction"])  # waited 0.2 s, not 1000
    assert len([r for r in rows if r["error"]]) == 1 + len([r for r in rows if "poster" in r["instruction"]])
    assert elapsed < 60
    assert max(len(r.get("response") or "") for r in rows) < 1000


@pytest.mark.slow
def test_a_stop_during_the_probe_ends_the_run_at_once(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from ..api_server import Server
    from ..conftest import REPO, cli_env

    with Server(delay=60) as server:
        args = _api(server, tmp_path / "out", "api.key_env=null")
        proc = subprocess.Popen([sys.executable, "-m", "evaluator", *args], cwd=REPO, env=cli_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.time() + 60
        while not server.texts and time.time() < deadline:
            time.sleep(0.05)
        assert server.texts, "the probe never reached the server"
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        assert time.monotonic() - stopped < 10  # not the 60 s the probe's reply takes
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "Traceback" not in stderr


def test_the_servers_samples_in_flight_stay_within_a_window(monkeypatch):
    """Issue 22 (13): one task per row made up front, and a wait over all of them after each answer."""
    import asyncio
    from types import SimpleNamespace

    from evaluator.judge.server import RemoteJudge

    live, most = 0, 0

    async def sample(self, client, limit, index):
        nonlocal live, most
        live += 1
        most = max(most, live)
        async with limit:
            await asyncio.sleep(0)
        return {"id": str(index), "error": None}

    def finished(row):
        nonlocal live
        live -= 1

    monkeypatch.setattr(RemoteJudge, "_sample", sample)
    cfg = compose(["backend=api", "api.base_url=http://127.0.0.1:9/v1", "api.model=m", "api.concurrency=4"])
    judge = RemoteJudge(cfg.api, SimpleNamespace(max_new_tokens=1), list(range(20_000)), None)
    rows = judge.score(finished)
    assert sorted(int(r["id"]) for r in rows) == list(range(20_000))
    assert most <= 8  # twice api.concurrency


def test_a_200k_character_instruction_never_reaches_the_server(tmp_path):
    from ..api_server import Server
    from ..conftest import DEMO_MANIFEST

    rows = [json.loads(x) for x in DEMO_MANIFEST.read_text().splitlines()[:3]]
    rows[1]["instruction"] = "make it blue " * 16_000
    for r in rows:
        r["source"], r["edited"] = (str(DEMO_MANIFEST.parent / r[k]) for k in ("source", "edited"))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    with Server() as server:
        run(compose(_api(server, out, "data=manifest", f"data.path={manifest}", f"data.root={DEMO_MANIFEST.parent}",
                         "api.key_env=null")))  # fmt: skip
        assert len(server.texts) == 2 and max(len(t) for t in server.texts) < 5000
    [bad] = [r for r in read_jsonl(out / "results.jsonl") if r["error"]]
    assert bad["id"] == rows[1]["id"] and bad["error"] == "skipped: instruction too long"


# --- Files: lost inputs (2), writes outside the folder (3), bad rows (6), odd characters (5), a full disk (10) ---

EDIT = ["editor=tiny", "trainer=cpu", "data.num_workers=0"]


def _demo_rows(n: int | None = None) -> list[dict]:
    from ..conftest import DEMO_MANIFEST

    rows = [json.loads(x) for x in DEMO_MANIFEST.read_text().splitlines()[:n]]
    for r in rows:
        r["source"], r["edited"] = (str(DEMO_MANIFEST.parent / r[k]) for k in ("source", "edited"))
    return rows


def _write_manifest(path, rows) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_the_editing_stage_never_replaces_its_own_input_manifest(tmp_path, restore_environ):
    from evaluator.edit.stage import run as edit
    from evaluator.runtime.errors import ConfigError

    manifest = tmp_path / "manifest.jsonl"
    _write_manifest(manifest, _demo_rows(2))
    before = manifest.read_bytes()
    with pytest.raises(ConfigError, match=r"is where the editing stage writes its new manifest\.jsonl"):
        edit(compose([*EDIT, "data=manifest", f"data.path={manifest}", "data.allow_outside_root=true",
                      f"out_dir={tmp_path}"], "edit"))  # fmt: skip
    assert manifest.read_bytes() == before


def _gedit_with_bad_rows(root):
    import pyarrow.parquet as pq

    from ..fixtures import make_gedit

    rows = [("g0", "color_alter", "en", True, False), ("g1", "color_alter", "en", False, False),
            ("../x", "color_alter", "en", False, False), ("g3", "../../victim/fullset/color_alter", "en", False, False),
            ("g4", "color_alter", "en", False, False)]  # fmt: skip
    layout = make_gedit(root, rows=rows)
    records = pq.read_table(layout["metadata"]).to_pylist()
    records[4]["instruction"] = None
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(records), layout["metadata"])
    return layout


def test_gedit_rows_that_climb_out_or_lack_fields_are_error_rows_and_the_edits_are_recorded(tmp_path, restore_environ):
    from evaluator.edit.stage import run as edit

    layout = _gedit_with_bad_rows(tmp_path)
    keys = [f"data.{k}={v}" for k, v in layout.items() if k != "model_name"]
    out = edit(compose([*EDIT, "data=gedit", *keys, "data.model_name=tiny_editor", "editor.resolution=null"], "edit"))
    assert not (tmp_path / "results" / "victim").exists()  # nothing written into another model's folder
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["tiny_editor"]
    rows = read_jsonl(out / "edits.jsonl")
    assert len(rows) == 5
    errors = {r["id"]: r["error"] for r in rows}
    assert errors["g0/en"] is None and errors["g1/en"] is None
    assert [e for i, e in errors.items() if i not in ("g0/en", "g1/en")] == [
        "skipped: path escapes the data root", "skipped: path escapes the data root", "skipped: missing instruction"
    ]  # fmt: skip
    assert (out / "files.json").is_file() and (out / "editor.yaml").is_file()


def test_a_model_name_that_leads_out_of_the_results_root_is_refused(tmp_path):
    from evaluator.inputs.readers import read_gedit
    from evaluator.runtime.errors import ConfigError

    from ..fixtures import data_cfg, make_gedit

    layout = make_gedit(tmp_path)
    with pytest.raises(
        ConfigError, match=r"data\.model_name=\.\./escaped: data\.model_name.s folder .* would lie outside"
    ):
        read_gedit(data_cfg(layout="gedit", **{**layout, "model_name": "../escaped"}))
    assert read_gedit(data_cfg(layout="gedit", **{**layout, "model_name": "org/model"})).problems == []


def test_export_stays_inside_out_and_takes_a_model_name_with_a_slash(tmp_path):
    from evaluator.results.export import export_gedit
    from evaluator.results.headline import GEDIT_TYPES
    from evaluator.runtime.errors import ConfigError

    row = {"score": 5.0, "SC": 5.0, "PQ": 5.0, "category": GEDIT_TYPES[0], "language": "en"}
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="outside --out"):
        export_gedit([row], "../../escaped", out)
    assert not (tmp_path / "escaped").exists() and not any(tmp_path.parent.glob("escaped*"))
    paths = export_gedit([row], "org/model", out)
    assert paths[0] == out.resolve() / "org" / f"model_{GEDIT_TYPES[0]}_gpt_score.csv"


LINE_BREAKS = "a\u2028b\u2029c\x85d"


def test_line_separators_in_instructions_and_replies_keep_every_file_readable(tmp_path, restore_environ, capsys):
    from evaluator import compare
    from evaluator.results import report
    from evaluator.results.writing import read_run

    rows = _demo_rows(3)
    for r in rows:
        r["instruction"] += LINE_BREAKS
    manifest = tmp_path / "m.jsonl"
    _write_manifest(manifest, rows)
    out = tmp_path / "out"
    run(compose(["model=tiny", "trainer=cpu", "data.num_workers=0", "data=manifest", f"data.path={manifest}",
                 "data.allow_outside_root=true", f"out_dir={out}"]))  # fmt: skip
    assert (out / "report.html").is_file()
    text = (out / "results.jsonl").read_text(encoding="utf-8")
    assert len(text.splitlines()) == 3  # escaped: even a reader that splits at U+2028 sees one record a line
    _, results = read_run(out)
    assert [r["instruction"] for r in results] == [r["instruction"] for r in rows]
    # A results.jsonl written raw (by an earlier version) reads as well.
    (tmp_path / "raw").mkdir()
    raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    assert len(raw.splitlines()) > 3
    from evaluator.results.writing import read_jsonl_text

    assert read_jsonl_text(raw) == results
    report.build(out)
    compare.main([str(out), "--csv", str(tmp_path / "new" / "folder" / "board.csv")])  # a folder made, not a crash
    assert (tmp_path / "new" / "folder" / "board.csv").is_file()
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SystemExit) as stop:
        compare.main([str(out), "--html", str(tmp_path / "a-file" / "board.html")])
    assert stop.value.code == 2


@pytest.mark.slow
def test_a_full_disk_mid_run_is_one_line_and_exit_2(tmp_path):
    from ..conftest import run_cli

    out = tmp_path / "out"
    (out / "shards").mkdir(parents=True)
    (out / "shards" / "rank-0.jsonl").symlink_to("/dev/full")  # every write: "No space left on device"
    proc = run_cli(["model=tiny", "trainer=cpu", "data.num_workers=0", f"out_dir={out}"])
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "No space left on device" in proc.stderr
    assert "not a regular file" in proc.stderr  # and the link was not read as an earlier run's rows


@pytest.mark.parametrize("pid", ["abc", "1" * 20, None, -5])
def test_a_lock_with_a_nonsense_pid_is_taken_over(tmp_path, pid, caplog):
    import socket

    from evaluator.results.run_folder import LOCK, Lock

    (tmp_path / LOCK).write_text(json.dumps({"host": socket.gethostname(), "pid": pid}))
    lock = Lock(tmp_path)
    lock.acquire()
    assert lock.held and json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    lock.release()


def test_a_hundred_thousand_categories_make_a_readable_summary_and_chart(tmp_path):
    import time

    from evaluator.results import plots
    from evaluator.results.summary import MAX_SHOWN, summarize, summary_markdown

    rows = [{"id": str(i), "score": float(i % 11), "error": None, "category": f"c{i}", "language": f"l{i % 50}"}
            for i in range(100_000)]  # fmt: skip
    start = time.monotonic()
    summary = summarize(rows)
    text = summary_markdown(summary)
    chart = plots.category_bars(summary["tables"]["all"], "score", tmp_path / "c.png")
    assert time.monotonic() - start < 120
    assert len(text.splitlines()) < 40 * (MAX_SHOWN + 10)
    assert "99970 more categories (99970 samples)" in text
    assert len(summary["by_category"]) == 100_000  # the data keeps every one
    assert len([t for t in summary["tables"] if t.startswith("language=")]) == 20
    from PIL import Image

    assert Image.open(chart).width < 3000


# --- Prompt files that are not files (9) ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "large", "deep_python", "deep_json", "directory", "binary"])
def test_a_prompt_file_that_is_no_small_text_file_is_one_line(tmp_path, kind):
    import time

    from evaluator.runtime.errors import ConfigError

    path = tmp_path / ("source.json" if kind == "deep_json" else "source.py")
    if kind == "fifo":
        os.mkfifo(path)  # open() would wait for a writer for ever
    elif kind == "dev_zero":
        path = "/dev/zero"
    elif kind == "large":
        path.write_text("A = 'x'\n" * 7_000_000)  # 56 MB of statements
    elif kind == "deep_python":
        path.write_text("A = " + " + ".join(["'x'"] * 100_000) + "\n")
    elif kind == "deep_json":
        path.write_text("[" * 200_000 + "]" * 200_000)
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"\xff\xfe" * 100)
    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"judge=imgedit_official: judge\.official_source=.*(not a regular file|larger than|cannot be read|not UTF-8|no |not a JSON)"):  # fmt: skip
        Scheme.from_config(compose(["judge=imgedit_official", f"judge.official_source={path}"]).judge)
    if kind not in ("deep_python", "deep_json"):  # deep nesting is fine in a plain text prompt
        part = f"judge.judgements.0.user=[{{file: '{path}'}}, {{image: edited}}]"
        with pytest.raises(ConfigError, match="a prompt part's file"):
            Scheme.from_config(compose(["judge=score10", part]).judge)
    assert time.monotonic() - start < 30


# --- Editor keywords that break the pipeline's call (14) --------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("+editor.call.return_dict=false", "editor.call.return_dict is set by the editing stage itself"),
        ("+editor.call.image_guidance_scale=abc", "editor.call.image_guidance_scale='abc': "
         "StableDiffusionInstructPix2PixPipeline takes a number there"),
        ("+editor.call.eta=[1,2]", "editor.call.eta=[1, 2]: StableDiffusionInstructPix2PixPipeline takes a number"),
    ],
)  # fmt: skip
def test_editor_keywords_of_the_wrong_kind_stop_before_any_weights_load(call, message):
    from evaluator.edit.checks import check_edit
    from evaluator.runtime.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        check_edit(compose([*EDIT, call], "edit"))


@pytest.mark.slow
def test_a_keyword_the_pipeline_chokes_on_is_one_line_from_the_cli(tmp_path):
    from ..conftest import run_cli

    # The right type, a value the pipeline cannot use: it fails inside the first call.
    proc = run_cli([*EDIT, "+editor.call.latents=abc",
                    "data.limit=2", f"out_dir={tmp_path}/out"], module="evaluator.edit")  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "the editing pipeline's call failed (" in proc.stderr and "check editor.call" in proc.stderr


# --- Held in part: orphaned DataLoader workers, number-like names --------------------------------------------


def test_a_dataloader_worker_ends_soon_after_its_rank_is_killed():
    import subprocess
    import sys

    rank = subprocess.Popen(["sleep", "120"])
    code = f"from evaluator.runtime.dataset import exit_with; import time; exit_with({rank.pid}, poll_seconds=0.1); time.sleep(120)"
    worker = subprocess.Popen([sys.executable, "-c", code])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            worker.wait(timeout=8)  # alive while the rank is
        rank.kill()
        rank.wait()
        assert worker.wait(timeout=10) == 0
    finally:
        rank.kill()
        worker.kill()


@pytest.mark.slow
def test_a_number_like_name_stays_the_text_typed(tmp_path):
    from evaluator.config.overrides import quote_text_values

    from ..conftest import assert_ok, run_cli

    assert quote_text_values(["api.model=429_100", "model.revision=null", "seed=1_0", "data.batch_size=4"]) == [
        "api.model='429_100'", "model.revision=null", "seed=1_0", "data.batch_size=4"
    ]  # fmt: skip
    gedit = ["data=gedit", "data.metadata=m", "data.results_root=r", "data.model_name=007"]
    cfg = compose(["backend=api", "api.base_url=http://127.0.0.1:9/v1", "api.model=429_100", *gedit])
    assert (cfg.api.model, cfg.data.model_name) == ("429_100", "007")
    proc = run_cli(["backend=api", "api.base_url=http://127.0.0.1:9/v1", "api.model=429_100", "dry_run=true",
                    f"out_dir={tmp_path}"])  # fmt: skip
    assert_ok(proc)
    from omegaconf import OmegaConf

    assert OmegaConf.load(tmp_path / "config.yaml").api.model == "429_100"


@pytest.mark.parametrize("name", [".lock", "run.json"])
def test_a_fifo_where_the_folders_own_records_lie_does_not_block_the_run(tmp_path, name):
    from evaluator.results.run_folder import IDENTITY, Lock, claim

    from ..fixtures import data_cfg

    os.mkfifo(tmp_path / name)
    if name == IDENTITY:
        claim(tmp_path, data_cfg(layout="manifest", path=str(tmp_path / "m.jsonl")), resume=True)
        assert json.loads((tmp_path / IDENTITY).read_text())["data"]["layout"] == "manifest"
    else:
        with pytest.raises(Exception, match=r"in use by another run \(\?\)"):
            Lock(tmp_path).acquire()  # unreadable: named as held, never read for ever
