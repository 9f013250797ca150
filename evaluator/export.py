"""``python -m evaluator.export RUN_DIR --format gedit|imgedit|risebench|geditv2|krisbench|editscore|editreward
--out DIR``:
a run in a benchmark's own result format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluator.results.export import export
from evaluator.runtime import logs
from evaluator.runtime.errors import report_and_exit


def main(argv: list[str] | None = None) -> None:
    about = " ".join(__doc__.split())
    parser = argparse.ArgumentParser(prog="python -m evaluator.export", description=about)
    parser.add_argument("run_dir", type=Path, help="an evaluator run's output folder")
    formats = ["gedit", "imgedit", "risebench", "geditv2", "krisbench", "editscore", "editreward"]
    parser.add_argument("--format", required=True, choices=formats, help="the benchmark's format")
    parser.add_argument("--out", required=True, type=Path, help="folder to write the benchmark's files into")
    args = parser.parse_args(argv)
    logs.setup()
    with report_and_exit():
        paths = export(args.run_dir, args.format, args.out)
    sys.stdout.write("".join(f"{p}\n" for p in paths))


if __name__ == "__main__":
    main()
