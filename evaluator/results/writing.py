"""Writing the run's files; each is written to a temporary name and renamed, so none is ever half-written."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from evaluator.results.summary import summary_markdown, table_csv
from evaluator.runtime.errors import ConfigError, OutputError

RUN_FILES = ("results.jsonl", "summary.json", "config.yaml")
INDEX = "files.json"


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
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return path


# Characters that str.splitlines() (and so many JSON Lines readers) breaks a line at, though JSON lets them stand
# raw inside a string; escaped, every line of our JSONL files is one record for any reader.
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}
_LINE_BREAK = re.compile("[\u2028\u2029\x85]")


def jsonl_line(record) -> str:
    """One JSON Lines record: UTF-8 text kept readable, but no character any reader could split the line at."""
    return _LINE_BREAK.sub(lambda m: _LINE_BREAKS[m.group()], json.dumps(record, ensure_ascii=False)) + "\n"


def read_jsonl_text(text: str) -> list:
    """The records of a JSON Lines text, split at "\n" alone, as JSON Lines is defined."""
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def make_parent(path: Path) -> Path:
    """``path``, once its folder exists (made if missing).

    Raises:
        OutputError: the folder cannot be made (read-only, a file in the way).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {path.parent}: {e.strerror or e}") from None
    return path


def slug(text, limit: int = 40) -> str:
    """``text`` reduced to letters, digits, ``.``, ``_`` and ``-``, at most ``limit`` long."""
    kept = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in str(text)).strip("._")
    return kept[:limit] or "x"


def safe_name(text, limit: int = 40) -> str:
    """A short, safe file-name part for any value: its slug, and a short hash when the slug lost anything, so that
    two values never share a name."""
    text = str(text)
    short = slug(text, limit)
    return short if short == text else f"{short}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


# A spreadsheet runs a cell that begins with one of these as a formula (OWASP: CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet shows as text: lists and dicts as JSON, a string that would start a formula
    behind a single quote. ``results.jsonl`` keeps every value exactly."""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_results(rows: Sequence[dict], out_dir: Path, name: str = "results") -> list[Path]:
    """``results.jsonl`` (one JSON object per sample) and ``results.csv`` (the same columns); ``name="pairs"``:
    ``pairs.jsonl`` and ``pairs.csv``, one row per pair."""
    jsonl = atomic_write(out_dir / f"{name}.jsonl", "".join(jsonl_line(r) for r in rows))
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[spreadsheet_safe(c) for c in columns])
    writer.writeheader()
    writer.writerows({spreadsheet_safe(k): spreadsheet_safe(v) for k, v in r.items()} for r in rows)
    return [jsonl, atomic_write(out_dir / f"{name}.csv", buf.getvalue())]


def write_summary(summary: dict, out_dir: Path) -> list[Path]:
    """``summary.json``, ``summary.md`` and one ``summary_<subset>.csv`` per table (named safely, whatever the
    subset's value)."""
    paths = [atomic_write(out_dir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")]
    paths.append(atomic_write(out_dir / "summary.md", summary_markdown(summary)))
    for group, tab in summary["tables"].items():
        name = f"summary_{safe_name(group.replace('=', '-').replace(',', '_'))}.csv"
        paths.append(atomic_write(out_dir / name, table_csv(tab, summary["criteria"], spreadsheet_safe)))
    return paths


def write_config(cfg: DictConfig, out_dir: Path) -> Path:
    """The fully resolved config, so a run can be repeated from its folder alone."""
    return atomic_write(out_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))


def write_index(out_dir: Path, paths: Sequence[Path]) -> Path:
    """``files.json``, written last: the SHA-256 of every file of this run's one merge. A reader that finds a file
    that does not match it knows the set is not from one run (a run killed while writing)."""
    index = {p.name: _sha256(p) for p in paths}
    return atomic_write(out_dir / INDEX, json.dumps(index, indent=2, sort_keys=True) + "\n")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_run(out_dir: Path, check: bool = True) -> tuple[dict, list[dict]]:
    """A run's summary and result rows; with ``check``, only those of a finished run (see ``require_run``).

    Raises:
        ConfigError: the folder is not a finished run.
    """
    if check:
        require_run(out_dir, ("results.jsonl", "summary.json"))
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    return summary, read_jsonl_text((out_dir / "results.jsonl").read_text(encoding="utf-8"))


def require_run(out_dir: Path, files: tuple[str, ...] = RUN_FILES) -> Path:
    """``out_dir`` if it holds a finished run's ``files``.

    Raises:
        ConfigError: naming the folder and the file it lacks.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise ConfigError(f"{out_dir} is not a folder; give the out_dir of a finished evaluator run")
    missing = [f for f in (*files, INDEX) if not (out_dir / f).is_file()]
    if missing:
        raise ConfigError(f"{out_dir} is not a finished evaluator run (it has no {missing[0]}); give a run's out_dir")
    index = json.loads((out_dir / INDEX).read_text(encoding="utf-8"))
    changed = [f for f in files if index.get(f) != _sha256(out_dir / f)]
    if changed:
        raise ConfigError(f"{out_dir}: {changed[0]} is not from the run that {INDEX} records; run it again")
    return out_dir
