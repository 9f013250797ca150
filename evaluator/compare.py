"""One leaderboard across runs: ``python -m evaluator.compare OUT_A OUT_B ... [--criterion O] [--subset all]``.

Rows are runs, columns the categories, then the macro and micro averages, read from each run's
``summary.json``. Prints markdown; ``--csv FILE`` also writes the table as CSV.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

from omegaconf import OmegaConf

from evaluator import logs
from evaluator.errors import ConfigError, report_and_exit
from evaluator.logs import escape
from evaluator.summary import MACRO, MICRO
from evaluator.writing import atomic_write, require_run


def run_label(out_dir: Path) -> str:
    """The edited model's name where the layout has one (GEdit-Bench), else the run folder's name."""
    config = out_dir / "config.yaml"
    if config.exists():
        name = OmegaConf.load(config).get("data", {}).get("model_name")
        if name:
            return str(name)
    return out_dir.name


def leaderboard(
    out_dirs: list[Path], criterion: str | None = None, subset: str = "all"
) -> tuple[list[str], list[list]]:
    """Header and rows: one row per run with the criterion's mean per category, macro and micro average.

    ``criterion`` defaults to each run's overall criterion.

    Raises:
        ConfigError: a folder is not a run, or lacks the subset or criterion asked for.
    """
    runs = []
    for d in out_dirs:
        summary = json.loads((require_run(d, ("summary.json",)) / "summary.json").read_text(encoding="utf-8"))
        if subset not in summary["tables"]:
            raise ConfigError(f"{d}: no subset {subset!r}; it has {', '.join(sorted(summary['tables']))}")
        crit = criterion or summary.get("overall") or summary["criteria"][-1]
        if crit not in summary["criteria"]:
            raise ConfigError(f"{d}: no criterion {crit!r}; it has {', '.join(summary['criteria'])}")
        runs.append((run_label(d), crit, summary["tables"][subset]))
    categories = sorted({c for _, _, tab in runs for c in tab} - {MACRO, MICRO})
    header = ["run", "criterion", *categories, MACRO, MICRO, "n"]
    rows = []
    for label, crit, tab in runs:
        cells = [tab[c][crit]["mean"] if c in tab else None for c in [*categories, MACRO, MICRO]]
        rows.append([label, crit, *cells, tab[MICRO]["n"]])
    return header, rows


def to_markdown(header: list[str], rows: list[list]) -> str:
    def fmt(x) -> str:
        if x is None:
            return "–"
        return f"{x:.3f}" if isinstance(x, float) else escape(x)

    lines = ["| " + " | ".join(header) + " |", "| --- | --- |" + " ---: |" * (len(header) - 2)]
    lines += ["| " + " | ".join(fmt(x) for x in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_csv(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    return buf.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evaluator.compare", description=__doc__.splitlines()[0])
    parser.add_argument("out_dirs", nargs="+", type=Path, help="output folders of evaluator runs")
    parser.add_argument("--criterion", help="criterion to compare (default: each run's overall)")
    parser.add_argument("--subset", default="all", help="table subset, e.g. all, language=en, intersection")
    parser.add_argument("--csv", type=Path, help="also write the leaderboard to this CSV file")
    parser.add_argument("--html", type=Path, help="also write it as an HTML page with its chart (and the PNG beside)")
    args = parser.parse_args(argv)
    logs.setup()
    with report_and_exit():
        header, rows = leaderboard(args.out_dirs, args.criterion, args.subset)
    sys.stdout.write(to_markdown(header, rows))
    if args.csv:
        atomic_write(args.csv, to_csv(header, rows))
    if args.html:
        from evaluator.plots import compare_bars
        from evaluator.report import comparison_page

        chart = compare_bars(header, rows, args.html.with_suffix(".png"))
        comparison_page(header, rows, chart, args.html)


if __name__ == "__main__":
    main()
