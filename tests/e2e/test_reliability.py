"""Faults while running, as a user meets them: a failing rank, a killed job, two nodes, a rerun."""

import contextlib
import json
import socket
import subprocess
import sys
import time

import pytest

from ..conftest import DEMO_MANIFEST, REPO, assert_ok, cli_env, kill_when, read_jsonl, run_cli
from ..faults import fault_args

pytestmark = pytest.mark.slow

N_DEMO = len(DEMO_MANIFEST.read_text().splitlines())
TINY = ["model=tiny", "trainer=cpu", "data.num_workers=0", "data.batch_size=2"]


def _shard_ids(out_dir):
    ids = []
    for shard in sorted((out_dir / "shards").glob("rank-*.jsonl")):
        for line in shard.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError):  # a line torn by the kill
                ids.append(json.loads(line)["id"])
    return ids


def _many_pairs(folder, n=240):
    """A manifest of ``n`` pairs over the demo images, so every rank still has work when one fails."""
    (folder / "images").mkdir(parents=True)
    for image in (DEMO_MANIFEST.parent / "images").iterdir():
        (folder / "images" / image.name).write_bytes(image.read_bytes())
    rows = [json.loads(x) for x in DEMO_MANIFEST.read_text().splitlines()]
    (folder / "pairs.jsonl").write_text("".join(json.dumps({**rows[i % len(rows)], "id": f"r{i}"}) + "\n"
                                                for i in range(n)))  # fmt: skip
    return folder / "pairs.jsonl"


@pytest.mark.parametrize("launcher", ["torchrun", "lightning"])
def test_a_failing_rank_stops_every_rank_quickly(tmp_path, launcher):
    stamp = tmp_path / "failed-at"
    args = [*TINY, "data=manifest", f"data.path={_many_pairs(tmp_path / 'data')}", f"out_dir={tmp_path}/out",
            *fault_args(fail_rank=1, at_batch=3, stamp=stamp)]  # fmt: skip
    if launcher == "torchrun":
        proc = run_cli(args, nproc=3, timeout=180)
    else:
        proc = run_cli([*args, "trainer.devices=2"], timeout=180)
    ended = time.time()
    assert proc.returncode == 1  # not 137: no rank was killed
    # Measured from the failure itself, so the bound holds on a loaded machine too.
    assert ended - float(stamp.read_text()) < 15
    output = proc.stdout + proc.stderr
    # The failing rank's traceback once; the others say in one line why they stop.
    tracebacks = [ln for ln in output.splitlines() if ln.startswith("RuntimeError: injected failure on rank 1")]
    assert len(tracebacks) == 1
    stopping = [ln for ln in output.splitlines() if "stopping because rank 1: RuntimeError: injected failure" in ln]
    assert len(stopping) == (2 if launcher == "torchrun" else 1)  # every other rank
    assert "Connection closed by peer" not in output
    assert not (tmp_path / "out" / "results.jsonl").exists()
    if launcher == "torchrun":
        cause = output.split("Root Cause")[1]
        assert "rank      : 1 (local_rank: 1)" in cause  # torchrun names the rank that failed


def test_killed_run_resumes_on_another_world_size_without_redoing_finished_batches(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "evaluator",
           *TINY, f"out_dir={out}"]  # fmt: skip
    kill_when([*cmd, *fault_args(delay=1.0)], lambda: len(_shard_ids(out)) >= 4)
    _settle(out)  # torchrun's workers have sessions of their own: they end only once the agent's store is gone
    first = _shard_ids(out)
    assert 4 <= len(first) < N_DEMO, "the job must be killed mid-way"
    with (out / "shards" / "rank-1.jsonl").open("a") as f:
        f.write('{"id": "demo-17-hubble_deep_field-wa')  # as if killed mid-write

    proc = run_cli([*TINY, f"out_dir={out}"], nproc=3)  # 2 ranks before, 3 now
    assert_ok(proc)
    said = [ln for ln in proc.stderr.splitlines() if "evaluator.results.plan" in ln or "evaluator.results.resume" in ln]
    assert f"resuming: {len(first)} of {N_DEMO} samples were scored by an earlier run" in proc.stderr, (first, said)
    assert "ignoring unreadable line" in proc.stderr
    rows = read_jsonl(out / "results.jsonl")
    assert sorted(r["id"] for r in rows) == sorted(json.loads(x)["id"] for x in DEMO_MANIFEST.read_text().splitlines())
    all_ids = _shard_ids(out)
    assert len(all_ids) == len(set(all_ids)) == N_DEMO  # nothing finished was scored twice


def _settle(out_dir, quiet_s: float = 2.0) -> None:
    """Wait until no shard has changed for ``quiet_s`` seconds."""
    sizes = None
    while True:
        now = [p.stat().st_size for p in sorted((out_dir / "shards").glob("rank-*.jsonl"))]
        if now == sizes:
            return
        sizes = now
        time.sleep(quiet_s)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_on_loopback_without_a_shared_filesystem(tmp_path):
    port = _free_port()
    jobs = []
    for node in (0, 1):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node_rank={node}", "--nproc_per_node=2",
               "--rdzv_backend=c10d", f"--rdzv_endpoint=127.0.0.1:{port}", "--rdzv_id=evaluator-test",
               "-m", "evaluator", *TINY, f"out_dir={tmp_path}/node{node}"]  # fmt: skip
        jobs.append(
            subprocess.Popen(cmd, cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    outputs = [job.communicate(timeout=240)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    written = [d for d in (tmp_path / "node0", tmp_path / "node1") if (d / "results.jsonl").exists()]
    assert len(written) == 1  # global rank 0's folder, wherever the rendezvous put it
    rows = read_jsonl(written[0] / "results.jsonl")
    assert len(rows) == N_DEMO and len({r["id"] for r in rows}) == N_DEMO
    assert {r["rank"] for r in rows} == {0, 1, 2, 3}


def test_rerun_resumes_and_resume_false_starts_afresh(tmp_path):
    assert_ok(run_cli([*TINY, f"out_dir={tmp_path}"]))
    first = read_jsonl(tmp_path / "results.jsonl")
    again = run_cli([*TINY, f"out_dir={tmp_path}"])
    assert_ok(again)
    assert f"resuming: {N_DEMO} of {N_DEMO} samples" in again.stderr
    assert read_jsonl(tmp_path / "results.jsonl") == first
    changed = run_cli([*TINY, f"out_dir={tmp_path}", "model.max_new_tokens=8"])  # another fingerprint: all again
    assert_ok(changed)
    assert "resuming" not in changed.stderr and f"ignoring {N_DEMO} earlier rows" in changed.stderr
    fresh = run_cli([*TINY, f"out_dir={tmp_path}", "resume=false"])
    assert_ok(fresh)
    assert "resuming" not in fresh.stderr
    assert len(_shard_ids(tmp_path)) == N_DEMO  # the old shards were cleared


def test_skip_mode_end_to_end(tmp_path):
    lines = DEMO_MANIFEST.read_text().splitlines(keepends=True)[:3]
    (tmp_path / "images").mkdir()
    for line in lines:
        for key in ("source", "edited"):
            name = json.loads(line)[key]
            (tmp_path / name).write_bytes((DEMO_MANIFEST.parent / name).read_bytes())
    (tmp_path / json.loads(lines[1])["edited"]).write_bytes(b"")  # one empty edit
    (tmp_path / "m.jsonl").write_text("".join(lines))
    proc = run_cli([*TINY, "data=manifest", f"data.path={tmp_path}/m.jsonl", f"out_dir={tmp_path}/out"])
    assert_ok(proc)
    rows = read_jsonl(tmp_path / "out" / "results.jsonl")
    assert [r["error"] == "skipped: edited image is an empty file" for r in rows] == [False, True, False]
    assert "Skipped inputs: 1" in (tmp_path / "out" / "summary.md").read_text()
