"""Where the editing stage's time per image goes: ``python bench/edit_split.py [--rows 180] [--nproc 1] [overrides]``.

Writes a manifest of ROWS rows over the demo images, runs ``python -m evaluator.edit`` on it (under ``torchrun
--nproc_per_node=NPROC`` when NPROC > 1; the tiny editor on CPU unless the overrides say otherwise), and splits
the time per image from the run's ``summary.json``: the pipeline's own calls, writing the PNGs, and everything else
inside predict (reading and resizing the sources, batching, the shard writer, progress); then the fixed costs
around it (imports, the pre-flight check, the plan, loading the pipeline, the final records). On a GPU machine pass
the editor, e.g. ``editor=instruct_pix2pix trainer=gpu``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from first_sample import manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=180)
    parser.add_argument("--nproc", type=int, default=1)
    args, overrides = parser.parse_known_args()
    work = Path(tempfile.mkdtemp(prefix="edit-split-"))
    path = manifest(work, args.rows)
    out = work / "out"
    launcher = [sys.executable]
    if args.nproc > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.nproc}"]
    defaults = ["editor=tiny", "trainer=cpu", "data.num_workers=0"]
    cmd = [*launcher, "-m", "evaluator.edit", *defaults, "data=manifest", f"data.path={path}", f"out_dir={out}",
           *overrides]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - start
    summary = json.loads((out / "summary.json").read_text())
    s, per = summary["seconds"], summary["seconds_per_image"]
    predict = s["rank_seconds"] / args.nproc
    rows = [
        ("images edited", summary["edited"]),
        ("wall, whole command (s)", round(wall, 2)),
        ("  predict, per rank (s)", round(predict, 2)),
        ("  fixed: start, pre-flight, plan, load, records (s)", round(wall - predict, 2)),
        ("  of which loading the pipeline, slowest rank (s)", s["load_max"]),
        ("per image, in the pipeline (rank-s)", per["pipeline"]),
        ("per image, writing the PNG (rank-s)", per["writing"]),
        ("per image, other inside predict (rank-s)", per["other"]),
        ("our share of predict", f"{(per['writing'] + per['other']) / max(sum(per.values()), 1e-9):.1%}"),
    ]
    for name, value in rows:
        print(f"{name:55} {value}")


if __name__ == "__main__":
    main()
