"""Writing the run's files; each is written to a temporary name and renamed, so none is ever half-written."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from evaluator.summary import table_csv, to_markdown


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _csv_cell(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def write_results(rows: Sequence[dict], out_dir: Path) -> None:
    """``results.jsonl`` (one JSON object per sample) and ``results.csv`` (the same columns)."""
    atomic_write(out_dir / "results.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows({k: _csv_cell(v) for k, v in r.items()} for r in rows)
    atomic_write(out_dir / "results.csv", buf.getvalue())


def write_summary(summary: dict, out_dir: Path) -> None:
    """``summary.json``, ``summary.md`` and one ``summary_<subset>.csv`` per table."""
    atomic_write(out_dir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    atomic_write(out_dir / "summary.md", to_markdown(summary))
    for group, tab in summary["tables"].items():
        slug = re.sub(r"[^\w.-]+", "_", group.replace("=", "-"))
        atomic_write(out_dir / f"summary_{slug}.csv", table_csv(tab, summary["criteria"]))


def write_config(cfg: DictConfig, out_dir: Path) -> None:
    """The fully resolved config, so a run can be repeated from its folder alone."""
    atomic_write(out_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
