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

from evaluator.errors import ConfigError
from evaluator.summary import table_csv, to_markdown

RUN_FILES = ("results.jsonl", "summary.json", "config.yaml")


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` through a temporary file in the same folder and an atomic rename,
    so that no reader ever sees half a file. Every output file of the evaluator is written through here."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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


def require_run(out_dir: Path, files: tuple[str, ...] = RUN_FILES) -> Path:
    """``out_dir`` if it holds a finished run's ``files``.

    Raises:
        ConfigError: naming the folder and the file it lacks.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise ConfigError(f"{out_dir} is not a folder; give the out_dir of a finished evaluator run")
    missing = [f for f in files if not (out_dir / f).is_file()]
    if missing:
        raise ConfigError(f"{out_dir} is not a finished evaluator run (it has no {missing[0]}); give a run's out_dir")
    return out_dir
