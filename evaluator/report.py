"""``python -m evaluator.report OUT``: rebuild a run's report (``OUT/report.html`` and its charts) from its results."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluator.results.report import build, run_files
from evaluator.results.writing import require_run, write_index
from evaluator.runtime import logs
from evaluator.runtime.errors import report_and_exit


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evaluator.report", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="an evaluator run's output folder")
    args = parser.parse_args(argv)
    logs.setup()
    with report_and_exit():
        out_dir = require_run(args.out_dir)
        paths = build(out_dir)
        write_index(out_dir, [p for p in run_files(out_dir) if p not in paths] + paths)
    sys.stdout.write(f"{paths[-1]}\n")


if __name__ == "__main__":
    main()
