"""One leaderboard across runs: ``python -m evaluator.compare OUT_A OUT_B ... [--criterion O] [--subset all]``.

By default rows are runs and columns their headline figures (as each run's protocol computes them, with
standard errors), followed by each later run's paired difference from the first one (see ``evaluator.results.paired``),
which needs runs of the same samples (``--intersection``: the samples they share). With ``--criterion`` or
``--subset``, columns are the categories of one criterion and subset, then the macro and micro averages. Prints
markdown; ``--csv FILE`` also writes the table as CSV.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

from omegaconf import OmegaConf

from evaluator.config.compose import ASSETS_DIR
from evaluator.results.paired import check_comparable, paired
from evaluator.results.run_folder import data_name
from evaluator.results.summary import MACRO, MICRO
from evaluator.results.writing import read_run, require_run
from evaluator.runtime.errors import ConfigError
from evaluator.runtime.logs import escape


def run_label(out_dir: Path) -> str:
    """The edited model's name where the layout has one (GEdit-Bench), else the run folder's name."""
    name = _describe(out_dir).get("editor")
    return str(name) if name else out_dir.name


def _describe(out_dir: Path) -> dict:
    """What a run is, from its ``config.yaml``: the editor (GEdit-Bench's model name), the data, the judge, the
    scheme and its mode; what it does not say is left out."""
    path = out_dir / "config.yaml"
    cfg = OmegaConf.load(path) if path.is_file() else OmegaConf.create()
    data, model, api, judge = (cfg.get(k) or {} for k in ("data", "model", "api", "judge"))
    out = {"editor": data.get("model_name"), "data": None, "judge": None, "scheme": judge.get("name"),
           "mode": judge.get("mode")}  # fmt: skip
    if data.get("layout") and (data.get("path") or data.get("edits") or data.get("metadata")):
        with contextlib.suppress(Exception):  # an old or hand-written config: the data is then not named
            out["data"] = data_name(data, ASSETS_DIR)
    out["judge"] = api.get("model") if cfg.get("backend") == "api" else model.get("name_or_path")
    return {k: v for k, v in out.items() if v is not None}


def labels(out_dirs: list[Path]) -> dict[Path, str]:
    """Each run's label: its editor's name or folder name, then, where runs would share a label, what tells them
    apart (data, judge, scheme, mode: ``tiny-score10 (data=demo)``), else their folders."""
    names = {d: run_label(d) for d in out_dirs}
    if len(set(names.values())) == len(names):
        return names
    about = {d: _describe(d) for d in out_dirs}
    differ = [k for k in ("data", "judge", "scheme", "mode") if len({str(a.get(k)) for a in about.values()}) > 1]
    out = {}
    for d, n in names.items():
        shared = list(names.values()).count(n) > 1
        parts = [f"{k}={about[d].get(k, '?')}" for k in differ] or ([d.name] if n != d.name else [str(d.parent.name)])
        out[d] = f"{n} ({', '.join(parts)})" if shared else n
    return out


def leaderboard(
    out_dirs: list[Path], criterion: str | None = None, subset: str = "all"
) -> tuple[list[str], list[list]]:
    """Header and rows: one row per run with the criterion's mean per category, macro and micro average.

    ``criterion`` defaults to each run's overall criterion.

    Raises:
        ConfigError: a folder is not a run, or lacks the subset or criterion asked for.
    """
    runs, names = [], labels(out_dirs)
    for d in out_dirs:
        summary = json.loads((require_run(d, ("summary.json",)) / "summary.json").read_text(encoding="utf-8"))
        if subset not in summary["tables"]:
            raise ConfigError(f"{d}: no subset {subset!r}; it has {', '.join(sorted(summary['tables']))}")
        crit = criterion or summary.get("overall") or summary["criteria"][-1]
        if crit not in summary["criteria"]:
            raise ConfigError(f"{d}: no criterion {crit!r}; it has {', '.join(summary['criteria'])}")
        runs.append((names[d], crit, summary["tables"][subset]))
    categories = sorted({c for _, _, tab in runs for c in tab} - {MACRO, MICRO})
    header = ["run", "criterion", *categories, MACRO, MICRO, "n"]
    rows = []
    for label, crit, tab in runs:
        cells = [tab[c][crit]["mean"] if c in tab else None for c in [*categories, MACRO, MICRO]]
        rows.append([label, crit, *cells, tab[MICRO]["n"]])
    return header, rows


def headline_board(out_dirs: list[Path]) -> tuple[list[str], list[list], list[list]]:
    """Header, rows and standard errors: one row per run with each headline figure, named as in ``summary.json``.

    Raises:
        ConfigError: a folder is not a run, or the runs follow different protocols.
    """
    runs = [(d, json.loads((require_run(d, ("summary.json",)) / "summary.json").read_text(encoding="utf-8")))
            for d in out_dirs]  # fmt: skip
    for d, summary in runs:
        if "pairs" in summary:
            raise ConfigError(f"{d} judged pairs (data=pairs or an arena): its verdicts are in pairs.jsonl, "
                              "ratings.json and summary.json's agreement, not a headline to compare")  # fmt: skip
        if "headline" not in summary:
            raise ConfigError(f"{d}: its summary.json has no headline (an older run); rebuild it by running it again")
    protocols = {s["headline"]["protocol"] for _, s in runs}
    if len(protocols) > 1:
        raise ConfigError(f"the runs follow different protocols ({', '.join(sorted(protocols))}): not comparable")
    figures = list(dict.fromkeys(name for _, s in runs for name in s["headline"]["figures"]))
    header = ["run", "protocol", *figures, "n"]
    rows, ses, names = [], [], labels(out_dirs)
    for d, s in runs:
        h = s["headline"]
        found = [h["figures"].get(name, {}) for name in figures]
        rows.append([names[d], h["protocol"], *[f.get("value") for f in found], s["count"]])
        ses.append([None, None, *[f.get("se") for f in found], None])
    return header, rows, ses


def paired_table(out_dirs: list[Path], intersection: bool = False) -> list[list]:
    """Each later run against the first: one row per headline figure with the paired difference (later minus
    first), its 95% interval, and the samples improved / worsened / tied."""
    base = (out_dirs[0], *read_run(out_dirs[0]))
    names = labels(out_dirs)
    table = []
    for d in out_dirs[1:]:
        other = (d, *read_run(d))
        ids = check_comparable(base, other, intersection)
        rows_a = [r for r in base[2] if r["id"] in ids]
        rows_b = [r for r in other[2] if r["id"] in ids]
        h = base[1]["headline"]
        for name, p in paired(rows_a, rows_b, h["protocol"], h["criteria"]).items():
            table.append([names[d], name, p["difference"], p["ci95"], p["improved"], p["worsened"], p["tied"]])
    return table


def _fmt(x, se=None) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3f}" + (f" ± {se:.3f}" if se is not None else "")
    return escape(x)


def leaderboard_markdown(header: list[str], rows: list[list], ses: list[list] | None = None) -> str:
    ses = ses or [[None] * len(r) for r in rows]
    lines = ["| " + " | ".join(escape(h) for h in header) + " |", "| --- | --- |" + " ---: |" * (len(header) - 2)]
    for row, se in zip(rows, ses, strict=True):
        lines.append("| " + " | ".join(_fmt(x, e) for x, e in zip(row, se, strict=True)) + " |")
    return "\n".join(lines) + "\n"


def paired_markdown(first: str, table: list[list]) -> str:
    lines = [f"Paired differences from {escape(first)} (later minus first; 95% paired-bootstrap interval; samples "
             "improved / worsened / tied):", "", "| run | figure | difference | 95% CI | improved | worsened | tied |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for label, name, diff, ci, up, down, tied in table:
        interval = f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "–"
        change = "–" if diff is None else f"{diff:+.3f}"
        lines.append(f"| {escape(label)} | {escape(name)} | {change} | {interval} | {up} | {down} | {tied} |")
    return "\n".join(lines) + "\n"


def to_csv(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    return buf.getvalue()
