"""Readers for the layouts benchmarks ship in: our manifest, GEdit-Bench and ImgEdit-Bench.

Each reader returns a ``Loaded``: the samples to score, the problems that stop a run (bad rows, missing source
images), and the samples whose edited image is missing, which become result rows with error "missing edit".
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from evaluator.manifest import read_manifest
from evaluator.samples import Kind, Problem, Sample
from evaluator.tiny import cache_root


@dataclass
class Loaded:
    """The samples a layout read; see the module docstring."""

    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    missing: list[Sample] = field(default_factory=list)


def read(data_cfg) -> Loaded:
    """Read the configured layout (``data.layout``: manifest, gedit or imgedit)."""
    return READERS[data_cfg.layout](data_cfg)


def describe(data_cfg) -> str:
    """The input's name for messages: the manifest's path or the benchmark's metadata."""
    return str(data_cfg.path if data_cfg.layout == "manifest" else data_cfg.metadata)


def _manifest(data_cfg) -> Loaded:
    samples, problems = read_manifest(data_cfg.path, root=data_cfg.root, allow_outside_root=data_cfg.allow_outside_root)
    return Loaded(samples, problems)


def _split_missing(samples: list[Sample]) -> Loaded:
    present = [s for s in samples if Path(s.edited).is_file()]
    return Loaded(present, [], [s for s in samples if not Path(s.edited).is_file()])


def read_table(path: str | Path) -> list[dict]:
    """Rows of a Hugging Face dataset on disk: parquet file(s), or a ``save_to_disk`` folder of arrow files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path).expanduser()
    files = (sorted(path.rglob("*.parquet")) or sorted(path.rglob("*.arrow"))) if path.is_dir() else [path]
    if not files or not files[0].exists():
        raise FileNotFoundError(f"no parquet or arrow data at {path}")
    tables = []
    for f in files:
        if f.suffix == ".parquet":
            tables.append(pq.read_table(f))
        else:  # datasets writes arrow IPC streams
            with pa.memory_map(str(f)) as source:
                tables.append(pa.ipc.open_stream(source).read_all())
    return pa.concat_tables(tables).to_pylist()


def _image_file(value, folder: Path, name: str) -> str:
    """A path for a dataset's image cell ({bytes, path} or a path); embedded bytes are written out once."""
    if isinstance(value, str):
        return value
    if value.get("bytes") is None:
        return value["path"]
    data = value["bytes"]
    with Image.open(io.BytesIO(data)) as im:
        ext = (im.format or "png").lower().replace("jpeg", "jpg")
    target = folder / f"{name}.{ext}"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # ranks may race here; every one writes the same bytes
    return str(target)


def read_gedit(data_cfg) -> Loaded:
    """GEdit-Bench: metadata rows (key, task_type, instruction, instruction_language, input_image,
    Intersection_exist) and edits at ``<results_root>/<model_name>/fullset/<task_type>/<lang>/<key>.png``.

    Source images embedded in the metadata are written once into the cache folder.
    """
    meta = Path(data_cfg.metadata).expanduser().resolve()
    try:
        records = read_table(meta)
    except (FileNotFoundError, OSError) as e:
        return Loaded(problems=[Problem(0, "-", Kind.FILE, f"GEdit-Bench metadata unreadable: {e}")])
    stamp = hashlib.sha256(f"{meta}:{meta.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    sources = cache_root() / "gedit-sources" / stamp
    edits = Path(data_cfg.results_root).expanduser().resolve() / data_cfg.model_name / "fullset"
    language = data_cfg.language
    samples = []
    for row, rec in enumerate(records, start=1):
        lang = rec["instruction_language"]
        if language not in ("all", lang):
            continue
        samples.append(
            Sample(
                id=str(rec["key"]),
                source=_image_file(rec["input_image"], sources, str(rec["key"])),
                edited=str(edits / rec["task_type"] / lang / f"{rec['key']}.png"),
                instruction=rec["instruction"],
                category=rec["task_type"],
                language=lang,
                extra={"intersection": bool(rec.get("Intersection_exist", False))},
                row=row,
            )
        )
    return _split_missing(samples)


def read_imgedit(data_cfg) -> Loaded:
    """ImgEdit-Bench basic set: a JSON mapping key -> {id: source path, prompt, edit_type}, a folder of source
    images (``data.sources``) and a folder of ``<key>.png`` edits (``data.edits``)."""
    meta = Path(data_cfg.metadata).expanduser()
    try:
        mapping = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return Loaded(problems=[Problem(0, "-", Kind.FILE, f"ImgEdit-Bench metadata unreadable: {e}")])
    sources = Path(data_cfg.sources).expanduser().resolve()
    edits = Path(data_cfg.edits).expanduser().resolve()
    samples, problems = [], []
    for row, (key, rec) in enumerate(mapping.items(), start=1):
        source = (sources / rec["id"]).resolve()
        if not source.is_relative_to(sources) and not data_cfg.allow_outside_root:
            problems.append(
                Problem(row, str(key), Kind.OUTSIDE_ROOT, f"path escapes the data root {sources}: source {source}")
            )
            continue
        sample = Sample(str(key), str(source), str(edits / f"{key}.png"), rec["prompt"], rec["edit_type"], row=row)
        samples.append(sample)
    loaded = _split_missing(samples)
    loaded.problems = problems
    return loaded


READERS = {"manifest": _manifest, "gedit": read_gedit, "imgedit": read_imgedit}
