"""Where the editing stage reads its rows and writes its edits, in each layout the judge reads.

- A manifest (id, source, instruction[, category, language, ...]): the edits go to ``out_dir/edits/``, a copy of
  each source to ``out_dir/sources/`` (named by its content), and ``out_dir/manifest.jsonl`` lists them, so
  ``python -m evaluator data=manifest data.path=out_dir/manifest.jsonl`` judges the folder as it is, anywhere.
- GEdit-Bench: ``<results_root>/<model_name>/fullset/<task_type>/<language>/<key>.png``, with the source beside it
  as ``<key>_SRCIMG.png``, as GEdit-Bench's own scripts expect.
- ImgEdit-Bench: ``<edits>/<key>.png``.
- RISEBench: ``<outputs>/images/<category>/<index>.png``, where its ``gpt_eval.py --output <outputs>`` looks.
- GEditBench v2: ``<gallery>/<editor>/<key>.png`` (``data.editors=[editor]``), and beside its ``metadata.jsonl`` a
  ``metadata_<editor>.jsonl`` that lists them too, the file its evaluation takes (``--geditv2-metadata-file``).

Beside the edits lies ``editor.yaml``, the editor's settings; the judge copies it into its own results.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from evaluator.inputs import readers
from evaluator.inputs.geditv2 import merged_candidates, read_queries_to_edit
from evaluator.inputs.images import load_rgb
from evaluator.inputs.manifest import read_manifest
from evaluator.inputs.readers import Loaded
from evaluator.inputs.samples import Kind, Problem, Sample
from evaluator.results.writing import atomic_write, jsonl_line, safe_name
from evaluator.runtime.errors import ConfigError, OutputError
from evaluator.runtime.hashing import file_digest

EDITS = "edits"
SOURCES = "sources"
MANIFEST = "manifest.jsonl"
RECORD = "editor.yaml"
# Columns that describe the input's own edited image (the demo's labels): they say nothing of the new edits.
OLD_EDIT_LABELS = ("follows", "applied_edit")


def read_edit_rows(data_cfg, out_dir: Path) -> Loaded:
    """Every row to edit, each sample's ``edited`` the path its edit is written to (then ``data.limit``)."""
    if data_cfg.layout == "manifest":
        samples, problems = read_manifest(
            data_cfg.path, root=data_cfg.root, allow_outside_root=data_cfg.allow_outside_root, edited=False
        )
        edits = out_dir / EDITS
        samples = [dataclasses.replace(s, edited=str(edits / f"{safe_name(s.id)}.png")) for s in samples]
        loaded = Loaded(samples, problems)
    else:
        if data_cfg.layout == "gedit":
            found = readers.read_gedit(data_cfg, saved_source=False)  # the metadata's image, not a saved one
        elif data_cfg.layout == "geditv2":
            found = read_queries_to_edit(data_cfg)  # each query once, not its pairs
        else:
            found = readers.READERS[data_cfg.layout](data_cfg)
        # A benchmark's reader calls a row without an edit "missing"; here every row is one to edit.
        rows = sorted(found.samples + found.missing, key=lambda s: s.row)
        if data_cfg.layout in ("risebench", "krisbench"):  # a PNG, which their scripts read, whatever was there
            rows = [dataclasses.replace(s, edited=str(Path(s.edited).with_suffix(".png"))) for s in rows]
        problems = list(found.problems)
        if data_cfg.layout == "krisbench":  # a composition or a frame item: the editing stage gives an editor one image
            problems += [Problem(s.row, s.id, Kind.BAD_VALUE, f"{len(s.more_sources) + 1} input images; the editing "
                                 "stage gives its editor one (edit these with a multi-image editor)")
                         for s in rows if s.more_sources]  # fmt: skip
            rows = [s for s in rows if not s.more_sources]
        loaded = Loaded(rows, problems)
    return readers.limit(loaded, data_cfg.limit) if data_cfg.get("limit") else loaded


def refuse_own_input(data_cfg, out_dir: Path, key: str = "out_dir") -> None:
    """A manifest is never replaced by the one this stage writes: its rows and source paths would be lost.

    Raises:
        ConfigError: ``data.path`` is ``out_dir/manifest.jsonl`` (``key``: the setting that chose ``out_dir``).
    """
    if data_cfg.layout != "manifest":
        return
    given = Path(str(data_cfg.path)).expanduser().resolve()
    if given == (Path(out_dir).expanduser() / MANIFEST).resolve():
        raise ConfigError(
            f"data.path={data_cfg.path} is where the editing stage writes its new {MANIFEST}; choose another {key} "
            "(the default is outputs/<data>/edits-<editor>) or rename the input"
        )


def write_beside(data_cfg, rows: Sequence[dict], samples: dict[str, Sample], out_dir: Path, fresh: set) -> list[Path]:
    """What the judge needs beside the edits, for every row (in input order): a manifest's copied sources and its
    ``manifest.jsonl``; GEdit-Bench's ``<key>_SRCIMG.png`` (rewritten for the edits made now, in case the source
    changed, and written where missing); nothing for ImgEdit-Bench, whose sources stay in the benchmark's folder.

    Returns:
        The files to list in the run's index.
    """
    if data_cfg.layout == "manifest":
        return [_write_manifest(rows, samples, out_dir)]
    if data_cfg.layout == "geditv2":  # its gallery's metadata with these outputs added, for its own evaluation
        path, text = merged_candidates(data_cfg, [r["id"] for r in rows if r.get("error") is None])
        return [atomic_write(path, text)]
    if data_cfg.layout == "gedit":
        for row in rows:
            s = samples.get(row["id"])
            if s is None or row.get("error") is not None or not row.get("edited"):
                continue  # a row that was never edited (a bad metadata row) has no folder to write into
            target = Path(row["edited"]).with_name(f"{row.get('key')}_SRCIMG.png")
            if row["id"] in fresh or not target.is_file():
                _write_png_copy(Path(s.source), target, upright=data_cfg.exif_transpose)
    return []


def _write_manifest(rows: Sequence[dict], samples: dict[str, Sample], out_dir: Path) -> Path:
    """``manifest.jsonl``: every input row, its paths relative to ``out_dir``; a row whose edit failed keeps its
    place, its reason in ``edit_error``, so the judge counts it instead of losing it."""
    lines, copies = [], {}  # a source several rows share is hashed and copied once
    for row in rows:
        s = samples.get(row["id"])
        source = Path(row["source"])
        if s is not None and source.is_file():
            if source not in copies:
                copies[source] = _copy_source(source, out_dir / SOURCES).relative_to(out_dir)
            source = copies[source]
        record = {
            "id": row["id"],
            "source": str(source),
            "edited": str(Path(row["edited"]).relative_to(out_dir)) if row.get("edited") else "",
            "instruction": row["instruction"],
        }
        record.update({k: row[k] for k in ("category", "language") if row.get(k) is not None})
        record.update({k: v for k, v in (s.extra if s else {}).items() if k not in OLD_EDIT_LABELS})
        if row.get("error"):
            record["edit_error"] = row["error"]
        lines.append(jsonl_line(record))
    return atomic_write(out_dir / MANIFEST, "".join(lines))


def _copy_source(source: Path, folder: Path) -> Path:
    """A copy of ``source`` in ``folder`` named by its content (a copy, not a link: a source rewritten in place
    later must not change what these edits were made from)."""
    target = folder / f"{file_digest(str(source))[:16]}{source.suffix.lower()}"
    if not target.is_file():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(target)
        except OSError as e:
            raise OutputError(f"cannot write {target}: {e.strerror or e}") from None
    return target


def _write_png_copy(source: Path, target: Path, upright: bool) -> None:
    """``source`` as a PNG at ``target``: its bytes if it is one, else decoded to RGB and encoded."""
    with Image.open(source) as im:
        is_png = im.format == "PNG"
    if is_png:
        atomic_write(target, source.read_bytes())
        return
    buf = io.BytesIO()
    load_rgb(str(source), upright=upright).save(buf, format="PNG")
    atomic_write(target, buf.getvalue())


def record_of(data_cfg) -> Path | None:
    """The ``editor.yaml`` beside the edits the judge is about to read, if the editing stage made them."""
    if data_cfg.layout in ("pairs", "arena", "geditv2"):
        return None  # pairs of edits compared: no one editor made them
    if data_cfg.layout == "manifest":
        folder = Path(str(data_cfg.path)).expanduser().parent
    elif data_cfg.layout == "gedit":
        folder = Path(str(data_cfg.results_root)).expanduser() / str(data_cfg.model_name)
    else:
        outputs = data_cfg.layout in ("risebench", "krisbench")
        folder = Path(str(data_cfg.outputs if outputs else data_cfg.edits)).expanduser()
    path = folder / RECORD
    return path if path.is_file() else None
