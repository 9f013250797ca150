"""Shared fixtures: one tiny-judge cache per test session, and a helper that runs the CLI as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_MANIFEST = REPO / "evaluator" / "assets" / "demo" / "manifest.jsonl"


def pytest_collection_modifyitems(config, items):
    """``gpu`` tests need CUDA; without it they are skipped, and say so."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (pytest -m gpu on a GPU machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def tiny_cache(tmp_path_factory) -> Path:
    """Build tiny judges into a fresh cache shared by this session's tests and the processes they start."""
    cache = tmp_path_factory.mktemp("evaluator-cache")
    os.environ["EVALUATOR_CACHE"] = str(cache)
    return cache


# Set by launchers; inherited, they make Lightning believe someone else started the processes, and wait for them.
LAUNCHER_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture
def restore_environ():
    """Undo what an in-process Trainer writes into ``os.environ`` (ranks, master address and port)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def cli_env(**extra: str) -> dict:
    # One thread per process: results compared across world sizes must not depend on BLAS thread counts.
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS and not k.startswith("TORCHELASTIC")}
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"})
    env.update(extra)
    return env


def run_cli(
    args: list[str], nproc: int | None = None, timeout: int = 300, module: str = "evaluator", **env: str
) -> subprocess.CompletedProcess:
    """``python -m MODULE ARGS`` (default: the judge), or under ``torchrun --standalone --nproc_per_node=NPROC``."""
    launcher = [sys.executable]
    if nproc is not None:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    return subprocess.run(
        [*launcher, "-m", module, *args],
        cwd=REPO,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def assert_ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-6000:]}"
    )


def kill_when(cmd: list[str], ready, timeout: float = 120) -> None:
    """Start ``cmd`` in a session of its own, wait until ``ready()`` (or until it ends), then SIGKILL all of it."""
    import signal
    import time

    job = subprocess.Popen(cmd, cwd=REPO, env=cli_env(), start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while not ready() and time.monotonic() < deadline and job.poll() is None:
            time.sleep(0.1)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
