"""The run's report: ``out_dir/report.html`` and its charts; ``python -m evaluator.report OUT`` rebuilds them.

One self-contained file: summary tables, charts and a sortable, filterable table of every sample with source and
edited thumbnails embedded. It is rendered by Jinja2 with autoescaping, so text a user or a model wrote shows as
text (a reply holding ``<script>`` included).
"""

from __future__ import annotations

import base64
import functools
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from omegaconf import OmegaConf
from PIL import Image

from evaluator.inputs.images import load_rgb
from evaluator.results import headline, plots
from evaluator.results.summary import shown
from evaluator.results.writing import INDEX, atomic_write, read_run

THUMB = 160
# The samples table shows this many rows, each with two thumbnails; a larger run's rows are in results.jsonl/csv.
MAX_ROWS = 2000


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("evaluator.results", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    env.globals["fmt"] = lambda x: "–" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))
    return env


@functools.lru_cache(maxsize=4096)
def thumbnail(path: str | None) -> str | None:
    """A small JPEG of the image at ``path``, base64-encoded; None when it cannot be read. Cached per path: a
    benchmark's source images recur in many rows."""
    if not path or not Path(path).is_file():
        return None
    try:
        with Image.open(path) as probe:
            probe.draft("RGB", (THUMB * 2, THUMB * 2))  # JPEG decodes at a fraction of its size: much faster
            im = load_rgb(path) if probe.mode not in ("RGB", "L") else probe.convert("RGB")
    except Exception:
        return None
    im.thumbnail((THUMB, THUMB), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=80)
    return base64.b64encode(buf.getvalue()).decode()


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _reply(row: dict) -> str:
    if "response" in row:
        return row["response"] or ""
    return "\n\n".join(
        f"[{k.removeprefix('response.')}] {v}" for k, v in row.items() if k.startswith("response.") and v
    )


def write_charts(out_dir: Path, rows: list[dict], summary: dict, low: float, high: float) -> list[Path]:
    """``plot_scores.png`` (histogram of the overall score) and ``plot_categories.png`` (overall by category)."""
    overall = summary.get("overall") or summary["criteria"][-1]
    charts = [plots.score_histogram(rows, low, high, out_dir / "plot_scores.png")]
    table = summary["tables"]["all"]
    if table and overall not in next(iter(table.values())):  # an overall the tables do not report (GEditBench v2's)
        overall = summary["criteria"][-1]
    if any(k not in ("macro avg", "micro avg") for k in table):
        charts.append(plots.category_bars(table, overall, out_dir / "plot_categories.png"))
    return charts


def _headline_view(h: dict | None) -> dict | None:
    if not h:
        return None
    return {
        "name": headline.NAMES[h["protocol"]],
        "criteria": h["criteria"],
        "rows": headline.headline_rows(h),
        "cell": headline.cell,
        "expected": h["types_expected"],
        "notes": headline.notes(h),  # the template escapes them
    }


MAX_PAIRS = 50  # example pairs shown in the report; pairs.jsonl holds them all


def _pairs_view(out_dir: Path) -> dict:
    """The first pairs of a run of pairs (``pairs.jsonl``), with their three thumbnails; nothing for other runs."""
    path = out_dir / "pairs.jsonl"
    if not path.is_file():
        return {"pairs": [], "pairs_left": 0}
    pairs = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    shown = pairs[:MAX_PAIRS]
    with ThreadPoolExecutor(8) as pool:
        for key, field in (("source_thumb", "source"), ("a_thumb", "edited_a"), ("b_thumb", "edited_b")):
            for p, thumb in zip(shown, pool.map(thumbnail, [p.get(field) for p in shown]), strict=True):
                p[key] = thumb
    return {"pairs": shown, "pairs_left": len(pairs) - len(shown)}


def build(out_dir: Path) -> list[Path]:
    """Write the charts and ``report.html`` (last in the list returned) from a run's ``results.jsonl``,
    ``summary.json`` and ``config.yaml``."""
    out_dir = Path(out_dir)
    summary, rows = read_run(out_dir, check=False)  # a run draws its report before it writes its index
    cfg = OmegaConf.load(out_dir / "config.yaml")
    top = cfg.judge.scale.get("reported_max") or cfg.judge.scale.max  # EditScore asks 0-25, reports 0-10
    charts = write_charts(out_dir, rows, summary, float(cfg.judge.scale.min), float(top))
    columns = list(dict.fromkeys(["score", *summary["criteria"]]))
    rows_left = max(0, len(rows) - MAX_ROWS)
    rows = rows[:MAX_ROWS]
    with ThreadPoolExecutor(8) as pool:  # decoding releases the GIL
        sources = list(pool.map(thumbnail, [r.get("source") for r in rows]))
        edits = list(pool.map(thumbnail, [r.get("edited") for r in rows]))
    for r, source, edited in zip(rows, sources, edits, strict=True):
        r["source_thumb"], r["edited_thumb"], r["reply"] = source, edited, _reply(r)
    html = (
        _env()
        .get_template("report.html.j2")
        .render(
            title=f"Judge report: {out_dir.name}",
            meta=f"judge {cfg.model.name_or_path} · scheme {cfg.judge.name} ({cfg.judge.mode}) · {len(rows)} samples",
            summary=summary,
            tables={group: shown(tab) for group, tab in summary["tables"].items()},
            rows_left=rows_left,
            headline=_headline_view(summary.get("headline")),
            charts=[(p.stem, _b64(p)) for p in charts],
            columns=columns,
            rows=rows,
            **_pairs_view(out_dir),
        )
    )
    return [*charts, atomic_write(out_dir / "report.html", html)]


def comparison_page(header: list[str], rows: list[list], chart: Path | None, path: Path, paired=()) -> Path:
    """The leaderboard across runs as one HTML page (with its chart embedded), and the paired differences of
    each later run from the first, where there are some."""
    html = (
        _env()
        .get_template("compare.html.j2")
        .render(header=header, rows=rows, chart=_b64(chart) if chart else None, paired=list(paired), first=rows[0][0])
    )
    return atomic_write(path, html)


def run_files(out_dir: Path) -> list[Path]:
    listed = json.loads((out_dir / INDEX).read_text(encoding="utf-8"))
    return [out_dir / name for name in listed if (out_dir / name).is_file()]
