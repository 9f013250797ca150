"""``backend=vllm`` against a real vLLM (the CPU build, in a venv of its own: ``.ci/vllm-venv``), with the tiny
judge: the servers' replies and scores are the local judge's, a stop or a ``kill -9`` leaves no server behind,
and a server that fails says why. Skipped unless ``EVALUATOR_VLLM_PYTHON`` names the interpreter that has vLLM."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evaluator.judge.qwen_vl import TINY_SPECS, build_tiny_judge

from ..conftest import REPO, assert_ok, cli_env, read_jsonl, run_cli

VLLM_PYTHON = os.environ.get("EVALUATOR_VLLM_PYTHON")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.vllm,
    pytest.mark.skipif(not VLLM_PYTHON, reason="needs EVALUATOR_VLLM_PYTHON: a python with vLLM (.ci/vllm-venv)"),
]
# On 2 cores a server is ready in 40-130 s; 1 GiB of KV cache is plenty for the tiny judge.
VLLM = ["model=tiny", "backend=vllm", f"vllm.python={VLLM_PYTHON}", "vllm.enforce_eager=true",
        "+vllm.env.VLLM_CPU_KVCACHE_SPACE=1", "report=false"]  # fmt: skip
LOCAL = ["model=tiny", "trainer=cpu", "data.num_workers=0", "report=false"]


def _by_id(folder: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_jsonl(folder / "results.jsonl")}


def _servers_left() -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if "vllm.entrypoints.openai.api_server" in line and "ps -eo" not in line]


@pytest.fixture(scope="module")
def local_generate(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("local") / "generate"
    assert_ok(run_cli([*LOCAL, f"out_dir={out}"]))
    return _by_id(out)


def test_one_process_replies_as_the_local_judge_and_a_rerun_starts_no_server(tmp_path, local_generate):
    out = tmp_path / "vllm"
    proc = run_cli([*VLLM, f"out_dir={out}"], timeout=600)
    assert_ok(proc)
    rows = _by_id(out)
    assert rows.keys() == local_generate.keys() and len(rows) == 18
    assert [rows[i]["response"] for i in rows] == [local_generate[i]["response"] for i in rows]
    assert {r["api_model"] for r in rows.values()} == {"tiny:qwen3_vl"}
    assert (out / "logs" / "vllm-rank-0.log").stat().st_size > 0
    again = run_cli([*VLLM, f"out_dir={out}"], timeout=300)
    assert_ok(again)
    assert "18 scored earlier" in again.stderr and "starting 1 server" not in again.stderr
    assert _servers_left() == []


def test_logit_mode_equals_the_local_judge_and_does_not_reuse_its_rows(tmp_path):
    out = tmp_path / "same-folder"
    assert_ok(run_cli([*LOCAL, "judge.mode=logits", f"out_dir={out}"]))
    local = _by_id(out)
    proc = run_cli([*VLLM, "judge.mode=logits", f"out_dir={out}"], timeout=600)
    assert_ok(proc)
    assert "18 samples to score" in proc.stderr  # transformers' rows are another engine's: all asked again
    served = _by_id(out)
    assert served.keys() == local.keys()
    for i, row in served.items():
        assert row["api_requests"] == 2  # the score's first digit, and the digit after "1" (for 10)
        assert abs(row["score"] - local[i]["score"]) < 1e-4, i
        assert row["score_argmax"] == local[i]["score_argmax"]
        assert abs(row["score_confidence"] - local[i]["score_confidence"]) < 1e-4


def test_torchrun_two_ranks_each_with_its_server(tmp_path, local_generate):
    out = tmp_path / "torchrun"
    proc = run_cli([*VLLM, "trainer=cpu", f"out_dir={out}"], nproc=2, timeout=600)
    assert_ok(proc)
    rows = _by_id(out)
    assert [rows[i]["response"] for i in local_generate] == [r["response"] for r in local_generate.values()]
    assert {r["rank"] for r in rows.values()} == {0, 1}
    assert sorted(p.name for p in (out / "logs").glob("vllm-*")) == ["vllm-rank-0.log", "vllm-rank-1.log"]
    assert _servers_left() == []


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evaluator", *args], cwd=REPO, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_for_rows(out: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    shard = out / "shards" / "rank-0.jsonl"
    deadline = time.monotonic() + timeout
    while not (shard.exists() and shard.read_text().count("\n") >= 1):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no row was written"
        time.sleep(0.5)


def test_sigterm_mid_run_stops_everything_within_10_s_and_a_rerun_completes_it(tmp_path):
    out = tmp_path / "stopped"
    args = [*VLLM, "vllm.max_num_seqs=1", f"out_dir={out}"]  # one request at a time: the run lasts a while
    proc = _start(args)
    _wait_for_rows(out, proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10 and proc.returncode == 143, err[-2000:]
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    assert _servers_left() == []
    done = len(read_jsonl(out / "shards" / "rank-0.jsonl"))
    assert 1 <= done < 18
    again = run_cli(args, timeout=600)
    assert_ok(again)
    assert f"{done} scored earlier" in again.stderr
    rows = read_jsonl(out / "results.jsonl")
    assert len(rows) == 18 and len({r["id"] for r in rows}) == 18


def test_kill_9_of_the_rank_leaves_no_server(tmp_path):
    out = tmp_path / "killed"
    proc = _start([*VLLM, "vllm.max_num_seqs=1", f"out_dir={out}"])
    _wait_for_rows(out, proc)
    proc.kill()
    proc.communicate()
    time.sleep(15)
    assert _servers_left() == []


def test_a_server_that_fails_says_why_in_one_line(tmp_path):
    spec = copy.deepcopy(TINY_SPECS["qwen3_vl"])
    spec["text"]["head_dim"] = 16  # vLLM's CPU attention refuses it, on the first request
    spec["text"]["rope_parameters"]["mrope_section"] = [4, 2, 2]
    build_tiny_judge(spec, tmp_path / "head16")
    proc = run_cli([*VLLM, f"model.name_or_path={tmp_path / 'head16'}", f"out_dir={tmp_path / 'out'}"], timeout=600)
    assert proc.returncode == 3, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "head_dim=16" in last and "vllm-rank-0.log" in last and "Traceback" not in proc.stderr
    assert _servers_left() == []


def test_the_vllm_benchmark_runs_on_the_cpu(tmp_path):
    """``./bench/gpu.sh``'s vLLM part, at the test shape with the real vocabulary and random weights."""
    out = tmp_path / "bench-vllm.json"
    proc = subprocess.run(
        [sys.executable, "-m", "evaluator.bench.served", "--tiny", "--samples", "4", "--modes", "logits",
         "--vllm-python", VLLM_PYTHON, "--json", str(out)],
        cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert_ok(proc)
    [result] = json.loads(out.read_text())["results"]
    assert result["mode"] == "logits" and result["samples"] == 4
    assert result["ready_s"] > 0 and result["samples_per_s"] > 0


def test_an_adapter_is_served_merged_and_scores_as_the_local_judge_with_it(tmp_path):
    from .test_adapters import make_adapter

    adapter = make_adapter(tmp_path / "lora", seed=11)
    local_out, served_out = tmp_path / "local", tmp_path / "served"
    assert_ok(run_cli([*LOCAL, "judge.mode=logits", f"model.adapter={adapter}", f"out_dir={local_out}"]))
    proc = run_cli([*VLLM, "judge.mode=logits", f"model.adapter={adapter}", f"out_dir={served_out}"], timeout=600)
    assert_ok(proc)
    assert "merged the adapter" not in proc.stderr  # the local run's merge, from the cache
    local, served = _by_id(local_out), _by_id(served_out)
    assert served.keys() == local.keys() and len(served) == 18
    assert all(abs(served[i]["score"] - local[i]["score"]) < 1e-4 for i in served)
