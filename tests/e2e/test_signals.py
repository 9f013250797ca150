"""SIGTERM (preemption on SLURM and Kubernetes) and Ctrl-C stop a run cleanly under every launcher, and a rerun
completes it with every sample scored exactly once."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ..conftest import DEMO_MANIFEST, REPO, assert_ok, cli_env, read_jsonl, run_cli
from ..faults import fault_args

pytestmark = pytest.mark.slow

N_DEMO = len(DEMO_MANIFEST.read_text().splitlines())
TINY = ["model=tiny", "trainer=cpu", "data.num_workers=0", "data.batch_size=2", "report=false"]


def _shard_ids(out_dir):
    ids = []
    for shard in sorted((out_dir / "shards").glob("rank-*.jsonl")):
        ids += [json.loads(line)["id"] for line in shard.read_text().splitlines() if line.strip()]
    return ids


def _start(launcher, out_dir):
    args = [*TINY, f"out_dir={out_dir}", *fault_args(delay=0.5)]
    if launcher == "torchrun":
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "evaluator"]
    else:
        cmd = [sys.executable, "-m", "evaluator"]
        args += ["trainer.devices=2"] if launcher == "lightning" else []
    return subprocess.Popen([*cmd, *args], cwd=REPO, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)  # fmt: skip


@pytest.mark.parametrize("launcher", ["single", "lightning", "torchrun"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_run_and_a_rerun_completes_it_exactly_once(tmp_path, launcher, signum):
    if signum == signal.SIGINT and launcher == "lightning":
        pytest.skip("Ctrl-C reaches every process of the group; SIGTERM to the launcher alone is the harder case")
    job = _start(launcher, tmp_path)
    deadline = time.monotonic() + 120
    while not _shard_ids(tmp_path) and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.1)
    assert job.poll() is None, job.communicate()[0][-3000:]
    sent = time.monotonic()
    if signum == signal.SIGINT:
        os.killpg(job.pid, signum)  # Ctrl-C in a terminal reaches the whole process group
    else:
        job.send_signal(signum)  # preemption signals the launcher (or the only process)
    output, _ = job.communicate(timeout=60)
    elapsed = time.monotonic() - sent
    assert job.returncode != 0, output[-3000:]
    assert elapsed < 10, (elapsed, output[-3000:])
    stopped = [ln for ln in output.splitlines() if f"stopped by {signal.Signals(signum).name}" in ln]
    assert stopped and "run the same command again to resume" in stopped[0], output[-3000:]
    # No traceback of ours; torchrun shows its own for the signal it got (SignalException), and that one only.
    torchruns = output.count("elastic.multiprocessing.api.SignalException: Process") if launcher == "torchrun" else 0
    assert output.count("Traceback") == torchruns, output[-3000:]
    done = _shard_ids(tmp_path)
    assert 0 < len(done) < N_DEMO and len(done) == len(set(done))

    rerun = run_cli([*TINY, f"out_dir={tmp_path}"])
    assert_ok(rerun)
    ids = _shard_ids(tmp_path)
    assert len(ids) == len(set(ids)) == N_DEMO  # nothing scored twice, nothing left out
    assert len(read_jsonl(tmp_path / "results.jsonl")) == N_DEMO


def test_a_run_in_a_python_session_leaves_the_signal_handlers_as_it_found_them(tmp_path, restore_environ):
    from evaluator.config.compose import compose
    from evaluator.judge.stage import run

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    run(compose(["model=tiny", "trainer=cpu", "judge.mode=logits", "report=false", f"out_dir={tmp_path}"]))
    assert {s: signal.getsignal(s) for s in before} == before
