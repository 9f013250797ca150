"""Inputs at the judge's speed (issue 28): what checking 1024² JPEG pairs costs, first and on a rerun, and a whole
``backend=api`` run against a bare client. Run from the repository root:

    python -m bench.inputs --rows 60 600 --scale 100000

- first check and rerun: CPU and wall ms per pair of ``preflight.check_share`` over distinct pairs, with an empty
  image-check store, then with the store it left;
- whole runs: ``python -m evaluator backend=api`` against an instant local server (``bench.api_images``), each
  with a fresh cache folder (so every image is checked), at each row count, and the bare client (each row's two
  files read, base64-encoded and sent, nothing else) on the same rows; the marginal rate between the smallest and
  the largest count is what one more row costs, start-up left out;
- scale: a manifest of ``--scale`` distinct rows over the same files, a finished run's shard written for it as a
  run writes it, then ``python -m evaluator`` again: the seconds until its (empty) plan, and in all.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.api_images import make_images, serve

CLI = [sys.executable, "-m", "evaluator", "backend=api", "api.model=m", "api.key_env=null", "api.concurrency=32",
       "data=manifest", "report=false"]  # fmt: skip


def write_manifest(folder: Path, pairs, rows: int, name: str) -> Path:
    path = folder / name
    lines = (json.dumps({"id": f"r{i}", "source": str(pairs[i % len(pairs)][0]),
                         "edited": str(pairs[i % len(pairs)][1]), "instruction": f"edit {i}"})
             for i in range(rows))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def check_cost(manifest: Path, store: Path) -> tuple[float, float]:
    """CPU and wall seconds of one check of every image the manifest names (all ranks' work, one process)."""
    from evaluator.inputs import preflight
    from evaluator.inputs.images import DEFAULT_LIMITS
    from evaluator.inputs.manifest import read_manifest

    samples, _ = read_manifest(manifest)
    cpu, wall = time.process_time(), time.perf_counter()
    share = preflight.check_share(samples, DEFAULT_LIMITS, store=store)
    preflight.merge([share], samples, DEFAULT_LIMITS)
    return time.process_time() - cpu, time.perf_counter() - wall


def run_seconds(url: str, manifest: Path, out: Path, cache: Path) -> float:
    start = time.perf_counter()
    subprocess.run([*CLI, f"api.base_url={url}", f"data.path={manifest}", f"out_dir={out}"], check=True,
                   env={**os.environ, "EVALUATOR_CACHE": str(cache)}, capture_output=True)  # fmt: skip
    return time.perf_counter() - start


def bare_seconds(url: str, manifest: Path) -> float:
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    files = json.dumps([[r["source"], r["edited"]] for r in rows])
    start = time.perf_counter()
    code = f"from bench.api_images import bare_main; bare_main({url!r}, {files!r}, 32)"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def finished_run(manifest: Path, out: Path, url: str) -> None:
    """Write ``out`` as a finished run of ``manifest`` leaves it: every row in the shard under the run's
    fingerprint and each row's input digest."""
    from evaluator.config.compose import compose
    from evaluator.inputs import preflight
    from evaluator.results import resume
    from evaluator.scoring.schemes import Scheme

    cfg = compose([*CLI[3:], f"api.base_url={url}", f"data.path={manifest}", f"out_dir={out}"])
    fp = resume.score_fingerprint(cfg, Scheme.from_config(cfg.judge))
    loaded, share = preflight.read_and_check(cfg.data, max_chars=cfg.api.max_instruction_chars)
    found = preflight.findings_of(cfg.data, loaded, [share])
    digests = {loaded.samples[i].id: d for i, d in found.digests.items()}
    writer = resume.ShardWriter(out, fp, digests)
    writer.open(0)
    writer.write([{**s.input_fields(), "score": 7.0, "error": None, "response": '{"score": 7}', "rank": 0,
                   "seconds": 0.01} for s in loaded.samples])  # fmt: skip
    writer.close()


def rerun_seconds(url: str, manifest: Path, out: Path) -> tuple[float, float]:
    """Seconds from the start of a rerun until its plan is logged, and in all."""
    start = time.perf_counter()
    proc = subprocess.Popen([*CLI, f"api.base_url={url}", f"data.path={manifest}", f"out_dir={out}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    planned = None
    for line in proc.stderr:
        if planned is None and re.search(r"plan: 0 samples to score", line):
            planned = time.perf_counter() - start
    proc.wait()
    return planned or float("nan"), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs=2, default=[60, 600])
    parser.add_argument("--scale", type=int, default=100_000)
    args = parser.parse_args()
    small, large = args.rows
    ports = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}/v1"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            pairs = make_images(tmp, 1024, "jpeg", distinct=large)
            m_small, m_large = (write_manifest(tmp, pairs, n, f"m{n}.jsonl") for n in (small, large))
            cpu, wall = check_cost(m_large, tmp / "store.sqlite")
            print(f"first check: {cpu / large * 1000:.2f} ms CPU, {wall / large * 1000:.2f} ms wall per pair")
            cpu, wall = check_cost(m_large, tmp / "store.sqlite")
            print(f"rerun check: {cpu / large * 1000:.3f} ms CPU, {wall / large * 1000:.3f} ms wall per pair")
            runs = ((small, m_small), (large, m_large))
            ours = [run_seconds(url, m, tmp / f"out{n}", tmp / f"cache{n}") for n, m in runs]
            bare = [bare_seconds(url, m) for m in (m_small, m_large)]
            rate, bare_rate = (large - small) / (ours[1] - ours[0]), (large - small) / (bare[1] - bare[0])
            print(f"whole runs: backend=api {ours[0]:.1f} s / {ours[1]:.1f} s, bare {bare[0]:.1f} s / {bare[1]:.1f} s"
                  f" ({small} / {large} rows); marginal {rate:.1f} against {bare_rate:.1f} samples/s: "
                  f"{rate / bare_rate:.2f}")  # fmt: skip
            if args.scale:
                m_scale = write_manifest(tmp, pairs, args.scale, "scale.jsonl")
                os.environ["EVALUATOR_CACHE"] = str(tmp / f"cache{large}")  # the checks the large run kept
                finished_run(m_scale, tmp / "scale", url)
                planned, total = rerun_seconds(url, m_scale, tmp / "scale")
                print(f"rerun of a finished {args.scale}-row run: plan after {planned:.1f} s, done in {total:.1f} s")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
