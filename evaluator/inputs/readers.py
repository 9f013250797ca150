"""Readers for the layouts benchmarks ship in: our manifest, GEdit-Bench and ImgEdit-Bench (RISEBench and GEditBench v2:
their own modules).

Each reader returns a ``Loaded``: the samples to score, the problems that stop a run (bad rows, missing source
images), and the samples whose edited image is missing, which become result rows with error "missing edit".
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection
from pathlib import Path

from omegaconf import OmegaConf

from evaluator.inputs.arena import read_arena
from evaluator.inputs.geditv2 import read_geditv2
from evaluator.inputs.krisbench import read_krisbench
from evaluator.inputs.layout_paths import embedded_image, inside_root, plain_name, split_missing
from evaluator.inputs.manifest import read_manifest
from evaluator.inputs.pairs import read_pairs
from evaluator.inputs.risebench import read_risebench
from evaluator.inputs.samples import Kind, Loaded, Problem, Sample
from evaluator.inputs.tables import read_json_object, read_table
from evaluator.runtime.errors import ConfigError
from evaluator.runtime.tiny import cache_root


def read_samples(data_cfg, pairwise: bool = False, reserved: Collection[str] = ()) -> Loaded:
    """Read the configured layout (``data.layout``: manifest, pairs, arena, gedit, imgedit, risebench, geditv2 or
    krisbench), then ``data.limit``.
    ``pairwise``: the judge compares two edits in one prompt (a pairs file then gives a sample per order shown).
    ``reserved``: the judge's criteria, which a user's column must not be named like (see ``samples.keep_apart``)."""
    if data_cfg.layout == "pairs":
        loaded = Loaded(*read_pairs(data_cfg.path, data_cfg.root, data_cfg.allow_outside_root, pairwise, reserved))
    elif data_cfg.layout == "arena":
        loaded = Loaded(*read_arena(data_cfg, functools.partial(_editor, data_cfg), pairwise))
    elif data_cfg.layout == "manifest":
        loaded = Loaded(*read_manifest(data_cfg.path, data_cfg.root, data_cfg.allow_outside_root, reserved=reserved))
    else:
        loaded = READERS[data_cfg.layout](data_cfg)
    return limit(loaded, data_cfg.limit) if data_cfg.get("limit") else loaded


def limit(loaded: Loaded, n: int) -> Loaded:
    """A deterministic subset of ``n`` samples spread over the categories: the first of each category in input
    order, then the second of each, and so on. Missing edits count among the ``n``, as they would in the full set.
    A pair's samples (``data=pairs``) count as one and are kept or left together.
    """
    unit = lambda s: s.extra.get("pair_id", s.id)  # noqa: E731
    ordered: dict[str, dict[str, None]] = {}  # category -> its units in input order (a dict: an ordered set)
    for s in sorted(loaded.samples + loaded.missing, key=lambda s: s.row):
        ordered.setdefault(s.category or "", {})[unit(s)] = None
    by_category = {c: list(units) for c, units in ordered.items()}
    chosen, depth = set(), 0
    while len(chosen) < n and any(depth < len(v) for v in by_category.values()):
        for _, members in sorted(by_category.items()):
            if depth < len(members) and len(chosen) < n:
                chosen.add(members[depth])
        depth += 1
    keep = [s for s in loaded.samples if unit(s) in chosen]
    return Loaded(keep, loaded.problems, [s for s in loaded.missing if unit(s) in chosen])


def describe(data_cfg) -> str:
    """The input's name for messages: the manifest's path or the benchmark's metadata."""
    if data_cfg.layout == "arena":
        return "the arena's manifests (" + ", ".join(f"{k}: {v}" for k, v in sorted(data_cfg.editors.items())) + ")"
    return str(data_cfg.path if data_cfg.layout in ("manifest", "pairs") else data_cfg.metadata)


def paths_from(data_cfg) -> Path | None:
    """The folder a manifest's or pairs file's relative image paths start from (its own folder), for messages;
    None for the layouts whose paths are not the user's to write."""
    if data_cfg.layout not in ("manifest", "pairs") or not data_cfg.get("path"):
        return None
    return Path(str(data_cfg.path)).expanduser().resolve().parent


def _editor(arena_cfg, name: str, path: str) -> Loaded:
    """One arena editor's edits, in the arena's editor layout: a manifest, a GEdit-Bench results root (the editor's
    name is its folder there) or an ImgEdit-Bench edits folder."""
    layout = arena_cfg.editor_layout
    if layout == "manifest":
        return Loaded(*read_manifest(path, allow_outside_root=arena_cfg.allow_outside_root))
    if layout == "gedit":
        keys = {
            "metadata": arena_cfg.metadata,
            "results_root": path,
            "model_name": name,
            "language": arena_cfg.language,
        }
    else:
        keys = {"metadata": arena_cfg.metadata, "sources": arena_cfg.sources, "edits": path,
                "allow_outside_root": arena_cfg.allow_outside_root}  # fmt: skip
    return READERS[layout](OmegaConf.create({"layout": layout, **keys}))


GEDIT_COLUMNS = ("key", "task_type", "instruction", "instruction_language", "input_image")


def read_gedit(data_cfg, saved_source: bool = True) -> Loaded:
    """GEdit-Bench: metadata rows (key, task_type, instruction, instruction_language, input_image,
    Intersection_exist) and edits at ``<results_root>/<model_name>/fullset/<task_type>/<lang>/<key>.png``.

    A sample's id is ``<key>/<language>``: the English and the Chinese row of a picture share their key. Its
    source is ``<key>_SRCIMG.png`` beside the edit where the editor saved one (the file GEdit-Bench's own scorer
    reads), else the metadata's image, written once into the cache folder. ``saved_source=False`` always takes the
    metadata's image (the editing stage, which writes ``<key>_SRCIMG.png`` itself).
    """
    meta = Path(data_cfg.metadata).expanduser().resolve()
    try:
        records = read_table(meta)
    except (OSError, ValueError) as e:
        return Loaded(problems=[Problem(0, "-", Kind.FILE, f"GEdit-Bench metadata unreadable: {e}")])
    stamp = hashlib.sha256(f"{meta}:{meta.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    sources = cache_root() / "gedit-sources" / stamp
    root = Path(data_cfg.results_root).expanduser().resolve()
    try:  # every edit lies under this model's own folder: no row may reach another model's
        fullset = inside_root(root / str(data_cfg.model_name) / "fullset", root, "data.model_name's folder")
    except ValueError as e:
        raise ConfigError(f"data.model_name={data_cfg.model_name}: {e}") from None
    samples, problems = [], []
    for row, rec in enumerate(records, start=1):
        if data_cfg.language not in ("all", rec.get("instruction_language")):
            continue
        missing = [c for c in GEDIT_COLUMNS if rec.get(c) is None]
        if missing:
            problems.append(Problem(row, str(rec.get("key", "-")), Kind.MISSING_FIELD, f"missing {', '.join(missing)}"))
            continue
        key, task, lang = str(rec["key"]), str(rec["task_type"]), str(rec["instruction_language"])
        try:
            for what, name in (("key", key), ("task_type", task), ("instruction_language", lang)):
                plain_name(name, what)
            edited = inside_root(fullset / task / lang / f"{key}.png", fullset, "edited image")
            saved = edited.with_name(f"{key}_SRCIMG.png")
            saved = saved if saved_source and saved.is_file() else None
            source = str(saved) if saved else embedded_image(rec["input_image"], sources, key)
        except ValueError as e:
            problems.append(Problem(row, f"{key}/{lang}", Kind.OUTSIDE_ROOT, f"path escapes the data root: {e}"))
            continue
        extra = {"key": key, "intersection": bool(rec.get("Intersection_exist", False))}
        samples.append(Sample(f"{key}/{lang}", source, str(edited), str(rec["instruction"]), task, lang, extra, row))
    loaded = split_missing(samples)
    loaded.problems = problems
    return loaded


def read_imgedit(data_cfg) -> Loaded:
    """ImgEdit-Bench basic set: a JSON mapping key -> {id: source path, prompt, edit_type}, a folder of source
    images (``data.sources``) and a folder of ``<key>.png`` edits (``data.edits``)."""
    meta = Path(data_cfg.metadata).expanduser()
    try:
        mapping = read_json_object(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return Loaded(problems=[Problem(0, "-", Kind.FILE, f"ImgEdit-Bench metadata unreadable: {e}")])
    sources = Path(data_cfg.sources).expanduser().resolve()
    edits = Path(data_cfg.edits).expanduser().resolve()
    samples, problems = [], []
    for row, (key, rec) in enumerate(mapping.items(), start=1):
        if key in mapping.repeated:  # json would keep its last item silently
            problems.append(Problem(row, str(key), Kind.DUPLICATE_ID, f"key {key} appears more than once"))
            continue
        missing = [c for c in ("id", "prompt", "edit_type") if not isinstance(rec, dict) or rec.get(c) is None]
        if missing:
            problems.append(Problem(row, str(key), Kind.MISSING_FIELD, f"missing {', '.join(missing)}"))
            continue
        try:
            source = (sources / str(rec["id"])).resolve()
            if not data_cfg.allow_outside_root:
                source = inside_root(source, sources, "source image")
            edited = inside_root(edits / f"{key}.png", edits, "edited image")
        except ValueError as e:
            problems.append(Problem(row, str(key), Kind.OUTSIDE_ROOT, f"path escapes the data root: {e}"))
            continue
        samples.append(Sample(str(key), str(source), str(edited), str(rec["prompt"]), str(rec["edit_type"]), row=row))
    loaded = split_missing(samples)
    loaded.problems = problems
    return loaded


READERS = {"gedit": read_gedit, "imgedit": read_imgedit, "risebench": read_risebench, "geditv2": read_geditv2,
           "krisbench": read_krisbench}  # fmt: skip
