"""``python -m evaluator.convert editreward-bench SRC OUT``: a published human-preference set as a pairs file
(``OUT/pairs.jsonl`` and ``OUT/images/``) for ``data=pairs``; see ``evaluator.inputs.human_labels``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluator.inputs.human_labels import CONVERTERS
from evaluator.runtime import logs
from evaluator.runtime.errors import report_and_exit


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evaluator.convert", description=__doc__.splitlines()[0])
    parser.add_argument("format", choices=sorted(CONVERTERS), help="the set's layout")
    parser.add_argument("source", type=Path, help="the set on disk: parquet file(s) or a save_to_disk folder")
    parser.add_argument("out", type=Path, help="folder to write pairs.jsonl and images/ into")
    args = parser.parse_args(argv)
    logs.setup()
    with report_and_exit():
        path = CONVERTERS[args.format](args.source, args.out)
    sys.stdout.write(f"{path}\n")


if __name__ == "__main__":
    main()
