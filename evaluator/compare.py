"""``python -m evaluator.compare OUT_A OUT_B ... [--criterion O] [--subset all]``: one leaderboard across runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluator.results.compare import (
    headline_board,
    leaderboard,
    leaderboard_markdown,
    paired_markdown,
    paired_table,
    to_csv,
)
from evaluator.results.writing import atomic_write, make_parent
from evaluator.runtime import logs
from evaluator.runtime.errors import report_and_exit


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evaluator.compare", description=__doc__.splitlines()[0])
    parser.add_argument("out_dirs", nargs="+", type=Path, help="output folders of evaluator runs")
    parser.add_argument("--criterion", help="a per-category table of this criterion instead of the headline")
    parser.add_argument("--subset", help="with --criterion: table subset, e.g. all, language=en, intersection")
    parser.add_argument("--intersection", action="store_true", help="pair runs over the samples they share")
    parser.add_argument("--csv", type=Path, help="also write the leaderboard to this CSV file")
    parser.add_argument("--html", type=Path, help="also write it as an HTML page with its chart (and the PNG beside)")
    args = parser.parse_args(argv)
    logs.setup()
    with report_and_exit():
        table = []  # the paired differences, for the headline board only
        if args.criterion or args.subset:
            header, rows = leaderboard(args.out_dirs, args.criterion, args.subset or "all")
            sys.stdout.write(leaderboard_markdown(header, rows))
        else:
            header, rows, ses = headline_board(args.out_dirs)
            table = paired_table(args.out_dirs, args.intersection) if len(args.out_dirs) > 1 else []
            sys.stdout.write(leaderboard_markdown(header, rows, ses))
            if table:
                sys.stdout.write("\n" + paired_markdown(rows[0][0], table))
        if args.csv:
            atomic_write(make_parent(args.csv), to_csv(header, rows))
        if args.html:
            from evaluator.results.plots import compare_bars
            from evaluator.results.report import comparison_page

            chart = compare_bars(header, rows, make_parent(args.html).with_suffix(".png"))
            comparison_page(header, rows, chart, args.html, table)


if __name__ == "__main__":
    main()
