"""Time to the first scored sample on a large manifest: ``python bench/first_sample.py [--rows 20000] [--nproc 3]``.

Writes a manifest of ROWS pairs over the demo images, starts ``torchrun --nproc_per_node=NPROC -m evaluator`` with
the tiny judge on CPU, and reports the seconds until the first row reaches a shard (the pre-flight check, the plan
and the judge's load all come before it). Run it from a checkout; ``--repo`` points at another one to compare.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def manifest(folder: Path, rows: int) -> Path:
    demo = Path(__file__).resolve().parent.parent / "evaluator" / "assets" / "demo"
    shutil.copytree(demo / "images", folder / "images", dirs_exist_ok=True)
    pairs = [json.loads(line) for line in (demo / "manifest.jsonl").read_text().splitlines()]
    lines = [json.dumps({**pairs[i % len(pairs)], "id": f"row-{i}"}) for i in range(rows)]
    (folder / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "pairs.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--nproc", type=int, default=3)
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="the checkout whose evaluator runs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="first-sample-"))
    path = manifest(work, args.rows)
    out = work / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.nproc}",
           "-m", "evaluator", "model=tiny", "trainer=cpu", "data=manifest", f"data.path={path}",
           "data.num_workers=0", "data.batch_size=1", f"out_dir={out}", "report=false"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    job = subprocess.Popen(cmd, cwd=args.repo, env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    found = False
    try:
        while job.poll() is None:
            shards = list((out / "shards").glob("rank-*.jsonl")) if (out / "shards").exists() else []
            if any(s.stat().st_size for s in shards):
                found = True
                break
            time.sleep(0.1)
        seconds = time.monotonic() - start
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    result = {"rows": args.rows, "nproc": args.nproc, "repo": str(args.repo), "first_sample_s": round(seconds, 1)}
    sys.stdout.write(json.dumps({**result, "scored": found}) + "\n")  # scored: false means the run failed first
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
