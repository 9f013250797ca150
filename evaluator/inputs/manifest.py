"""Reading a JSONL or CSV manifest of (id, source, edited, instruction[, category, language, ...]) rows."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Collection
from pathlib import Path

from evaluator.inputs.samples import INPUT_PREFIX, Kind, Problem, Sample, keep_apart
from evaluator.runtime.errors import ConfigError
from evaluator.runtime.textfiles import read_head

REQUIRED = ("id", "source", "edited", "instruction")
OPTIONAL = ("category", "language")

log = logging.getLogger(__name__)


def read_manifest(
    path: str | Path,
    root: str | Path | None = None,
    allow_outside_root: bool = False,
    edited: bool = True,
    reserved: Collection[str] = (),
) -> tuple[list[Sample], list[Problem]]:
    """Read a JSONL or CSV manifest; relative image paths are taken from the manifest's folder.

    Args:
        path: the manifest.
        root: the folder every image must lie in (default: the manifest's folder).
        allow_outside_root: accept images outside ``root`` (``..`` or absolute paths elsewhere).
        edited: read the ``edited`` column; ``False`` for the editing stage, which makes the edits (the column is
            then neither needed nor read, and each sample's ``edited`` is empty).
        reserved: the names of the judge's own score columns; input columns of those names, or of any other
            name the run writes (``samples.RUN_FIELDS``), are kept as ``input.<name>`` (see ``kept_apart``).

    Returns:
        The readable samples, and a problem for every row that is not (unreadable line, missing column, text that
        is not UTF-8, a path outside the root).
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        return [], [Problem(0, "-", Kind.FILE, f"manifest file not found: {path}")]
    root = Path(root).expanduser().resolve() if root else path.parent
    records, problems = read_records(path)
    records = kept_apart(records, (*REQUIRED, *OPTIONAL), reserved, path)
    samples = []
    for row, rec in enumerate(records, start=1):
        if rec is not None:
            sample, problem = sample_of(rec, row, path.parent, root, allow_outside_root, edited)
            samples += [sample] if sample else []
            problems += [problem] if problem else []
    return samples, problems


# Column names other tools use, by the column they stand for: the likely mapping a message suggests.
_SYNONYMS = {
    "id": ("key", "uid", "sample_id", "name", "idx", "index"),
    "source": ("src", "source_image", "input", "input_image", "original", "image", "source_path", "src_img"),
    "edited": ("edit", "edited_image", "output", "output_image", "result", "target", "edited_path", "pred", "tgt"),
    "instruction": ("prompt", "instr", "text", "caption", "edit_instruction", "edit_prompt", "instruction_text"),
}
_FIRST_ROWS = 100  # JSON Lines rows looked at for the columns


def check_columns(
    path: str | Path, edited: bool = True, required: tuple[str, ...] | None = None, what: str = "a manifest"
) -> None:
    """Before anything starts: a manifest whose first rows all lack a required column is another tool's layout.

    Reads the CSV header, or the first JSON Lines rows.

    Raises:
        ConfigError: the file is missing or unreadable; or naming the columns it has, the ones it needs, and a
            likely mapping.
    """
    path = Path(path).expanduser()
    required = required or (REQUIRED if edited else tuple(k for k in REQUIRED if k != "edited"))
    try:
        head = read_head(path, "data.path", 1 << 20).decode("utf-8-sig", errors="replace")
    except ValueError as e:  # missing, unreadable, a folder or a FIFO: said before anything starts
        raise ConfigError(str(e)) from None
    if path.suffix.lower() == ".csv":
        header = next(csv.reader(io.StringIO(head, newline="")), [])
        rows = [dict.fromkeys(h.strip() for h in header)]
    else:
        rows = []
        for line in head.split("\n")[:_FIRST_ROWS]:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                rows.append(rec)
    if not rows or any(all(k in r for k in required) for r in rows):
        return
    found = list(dict.fromkeys(str(k) for r in rows for k in r))
    lacking = [k for k in required if not any(k in r for r in rows)]
    mapping = [
        f"{theirs} -> {ours}" for ours in lacking for theirs in found if theirs.lower() in _SYNONYMS.get(ours, ())
    ]
    hint = f"; likely {', '.join(mapping)}" if mapping else ""
    raise ConfigError(
        f"data.path={path} has the columns {', '.join(found) or '(none)'}; {what} needs {', '.join(required)} "
        f"(it lacks {', '.join(lacking)}{hint}): rename them in the file"
    )


def sample_of(rec: dict, row: int, folder: Path, root: Path, allow_outside_root: bool, edited: bool = True):
    """One manifest record as a ``Sample``, or the ``Problem`` that keeps it from being one. A record with a
    ``second`` image (a pair's candidate shown second) gets that image checked and resolved like the others."""
    sample_id = _id(rec.get("id"))
    if None in rec:  # csv.DictReader keeps the cells beyond the header under the key None
        return None, Problem(row, sample_id, Kind.EXTRA_CELLS, f"{len(rec[None])} more cell(s) than the header has")
    roles = (("source", "edited") if edited else ("source",)) + (("second",) if "second" in rec else ())
    required = REQUIRED if edited else tuple(k for k in REQUIRED if k != "edited")
    missing = [k for k in required if (sample_id == "-" if k == "id" else _blank(rec.get(k)))]
    if missing:
        return None, Problem(row, sample_id, Kind.MISSING_FIELD, f"missing {', '.join(missing)}")
    bad_text = [k for k, v in rec.items() if isinstance(v, str) and _has_surrogates(v)]
    if bad_text:
        return None, Problem(row, _printable(sample_id), Kind.NOT_UTF8, f"not valid UTF-8: {', '.join(bad_text)}")
    images = {k: (folder / str(rec[k])).resolve() for k in roles}
    outside = [k for k, p in images.items() if not allow_outside_root and not p.is_relative_to(root)]
    if outside:
        where = ", ".join(f"{k} {images[k]}" for k in outside)
        return None, Problem(row, sample_id, Kind.OUTSIDE_ROOT, f"path escapes the data root {root}: {where}")
    sample = Sample(
        id=sample_id,
        source=str(images["source"]),
        edited=str(images["edited"]) if edited else "",
        instruction=str(rec["instruction"]),
        category=_opt_str(rec.get("category")),
        language=_opt_str(rec.get("language")),
        extra={k: v for k, v in rec.items() if k not in (*REQUIRED, *OPTIONAL, "second")},
        row=row,
        second=str(images["second"]) if "second" in images else None,
    )
    return sample, None


def kept_apart(
    records: list[dict | None], own: Collection[str], reserved: Collection[str], path: Path
) -> list[dict | None]:
    """The records with the columns named like the run's own fields renamed ``input.<name>`` (see
    ``samples.keep_apart``), said once per file: an earlier run's output read as input keeps its values apart from
    the new ones, and never steers the run's bookkeeping."""
    out, renamed = [], {}
    for rec in records:
        if rec is None:
            out.append(rec)
            continue
        rec, names = keep_apart(rec, own, reserved)
        renamed.update(dict.fromkeys(names))
        out.append(rec)
    if renamed:
        listed = ", ".join(f"{k} -> {INPUT_PREFIX}{k}" for k in list(renamed)[:10])
        more = f" and {len(renamed) - 10} more" if len(renamed) > 10 else ""
        log.warning("%s: columns named like the run's own fields are kept under other names: %s%s",
                    path.name, listed, more)  # fmt: skip
    return out


def read_records(path: Path) -> tuple[list[dict | None], list[Problem]]:
    """Every record of a JSONL or CSV file (None for a line that is not a JSON object), and a problem for each
    such line."""
    # surrogateescape keeps the readable rows of a file with a few bad bytes; those rows are reported.
    # utf-8-sig: Excel's "CSV UTF-8" (and some editors' JSONL) start with a byte-order mark.
    text = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    problems: list[Problem] = []
    if path.suffix.lower() == ".csv":
        return [_csv_flags(rec) for rec in csv.DictReader(io.StringIO(text, newline=""))], problems
    records: list[dict | None] = []
    # JSON Lines end at "\n" alone: U+2028, U+2029 and NEL are valid inside JSON strings (str.splitlines splits there).
    lines = (ln.rstrip("\r") for ln in text.split("\n"))
    for row, line in enumerate((ln for ln in lines if ln.strip()), start=1):
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            problems.append(Problem(row, "-", Kind.UNREADABLE_LINE, f"unreadable line: {_printable(str(e))}"))
            rec = None
        records.append(rec)
    return records, problems


def _csv_flags(rec: dict) -> dict:
    """A CSV row with its extra columns' ``true``/``false`` cells (any case, as spreadsheets write them) as booleans,
    as JSON Lines has them: the judge's sanity check reads ``follows`` only as a boolean."""
    flags = {"true": True, "false": False}
    return {
        k: flags.get(v.strip().lower(), v) if isinstance(v, str) and k not in (*REQUIRED, *OPTIONAL) else v
        for k, v in rec.items()
    }


def _id(value) -> str:
    """An id as text: numbers are ids too (``0`` included), anything else blank is missing ("-")."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return "-"
    return str(value) if str(value).strip() else "-"


def _blank(value) -> bool:
    return value is None or isinstance(value, bool) or not str(value).strip()


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _printable(text: str) -> str:
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _opt_str(value) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value)
