"""GEditBench v2's layout: its queries, its candidates gallery, and the pairs of editors its evaluation compares.

The queries are the benchmark's parquet files (``key``, ``instruction``, ``source_image``); an editor's output for a
query lies at ``<gallery>/<editor>/<key>.png``, as its ``autogen`` writes it, and the gallery's ``metadata.jsonl``
lists each query's candidates (``{"key", "candidates": [{"model", "image"}]}``, images relative to the gallery). An
editor this layout names that the metadata does not list (one ``evaluator.edit`` just made) is found by that path.

As its loader does: an editor with fewer than ``data.min_outputs`` files in its gallery folder is left out, with a
warning; for each query, every pair of the editors that have a candidate for it is compared once, in a canonical
order (names compared by their runs of letters and numbers, so ``model-2509`` comes before ``model-2511``), the
first shown as Image A; a pair's id is ``<key>_pair_<A>_vs_<B>``, the key its Elo script reads it back from.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from pathlib import Path

from evaluator.inputs.layout_paths import embedded_image, inside_root, plain_name
from evaluator.inputs.samples import Kind, Loaded, Problem, Sample
from evaluator.inputs.tables import read_table
from evaluator.runtime.textfiles import read_text_file
from evaluator.runtime.tiny import cache_root

log = logging.getLogger(__name__)
REQUIRED = ("key", "instruction", "source_image")
_TOKENS = re.compile(r"\d+|[a-zA-Z]+")


def name_order(name: str) -> tuple:
    """Its canonical order of editor names: runs of digits as numbers, runs of letters lower-cased, then the name
    (a number against letters, where its sort would stop, puts the number first)."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in _TOKENS.findall(name.lower())], name


def read_geditv2(data_cfg) -> Loaded:
    """Every pair of editors on every query as a sample (``edited``: Image A, ``second``: Image B); see the module
    docstring. A pair whose image is missing is a "missing edit" row."""
    try:
        queries = read_table(Path(str(data_cfg.metadata)).expanduser())
    except (OSError, ValueError) as e:
        return Loaded(problems=[Problem(0, "-", Kind.FILE, f"GEditBench v2 queries unreadable: {e}")])
    gallery = Path(str(data_cfg.gallery)).expanduser().resolve()
    listed_file = Path(str(data_cfg.candidates or gallery / "metadata.jsonl")).expanduser()
    try:
        listed = read_candidates(listed_file)
    except (OSError, ValueError) as e:
        return Loaded(problems=[Problem(0, "-", Kind.FILE, f"GEditBench v2 candidates unreadable: {e}")])
    editors, problems = _editors(data_cfg, listed, gallery)
    loaded = Loaded(problems=problems)
    seen: set[str] = set()
    for row, rec in enumerate(queries, start=1):
        key, source, problem = _query(rec, row)
        if problem is None and key in seen:
            problem = Problem(row, key, Kind.DUPLICATE_ID, f"key {key} appears more than once")
        try:
            if problem is None and "_pair_" in key:
                raise ValueError(f"key {key!r} holds _pair_, which its Elo script splits a pair's id at")
            outputs = {e: _output(gallery, e, key, listed.get(key, {})) for e in editors} if problem is None else {}
        except ValueError as e:
            problem = Problem(row, key, Kind.OUTSIDE_ROOT, f"path escapes the data root: {e}")
        if problem is not None:
            loaded.problems.append(problem)
            continue
        seen.add(key)
        have = sorted((e for e, path in outputs.items() if path is not None), key=name_order)
        for a, b in itertools.combinations(have, 2):
            extra = {"key": key, "editor_a": a, "editor_b": b}
            sample = Sample(f"{key}_pair_{a}_vs_{b}", source, str(outputs[a]), str(rec["instruction"]),
                            key.rsplit("_", 1)[0], None, extra, row, second=str(outputs[b]))  # fmt: skip
            present = outputs[a].is_file() and outputs[b].is_file()
            (loaded.samples if present else loaded.missing).append(sample)
    return loaded


def read_queries_to_edit(data_cfg) -> Loaded:
    """The editing stage's rows: every query once, its edit to ``<gallery>/<editor>/<key>.png`` for the one editor
    ``data.editors`` names, where GEditBench v2's gallery keeps an editor's outputs."""
    editors = [str(e) for e in data_cfg.editors]
    if len(editors) != 1:
        why = f"data=geditv2 edits as one editor: data.editors=[NAME] names its gallery folder, not {editors}"
        return Loaded(problems=[Problem(0, "-", Kind.BAD_VALUE, why)])
    try:
        queries = read_table(Path(str(data_cfg.metadata)).expanduser())
        plain_name(editors[0], "editor")
    except (OSError, ValueError) as e:
        return Loaded(problems=[Problem(0, "-", Kind.FILE, f"GEditBench v2 queries unreadable: {e}")])
    folder = Path(str(data_cfg.gallery)).expanduser().resolve() / editors[0]
    loaded = Loaded()
    for row, rec in enumerate(queries, start=1):
        key, source, problem = _query(rec, row)
        if problem is not None:
            loaded.problems.append(problem)
            continue
        edited = str(folder / f"{key}.png")
        loaded.samples.append(Sample(key, source, edited, str(rec["instruction"]), key.rsplit("_", 1)[0], row=row))
    return loaded


def merged_candidates(data_cfg, edited: list[str]) -> tuple[Path, str]:
    """The gallery's metadata with the editor's outputs for the ``edited`` keys added, as its ``autogen
    --merge-to-metadata`` adds them, for its evaluation to read: (where to write it, its text)."""
    gallery = Path(str(data_cfg.gallery)).expanduser().resolve()
    source = Path(str(data_cfg.candidates or gallery / "metadata.jsonl")).expanduser()
    editor = str(data_cfg.editors[0])
    lines = []
    for line in read_text_file(source, "data.candidates").splitlines() if source.is_file() else []:
        if line.strip():
            rec = json.loads(line)
            if str(rec.get("key")) in edited:
                rec["candidates"] = [c for c in rec["candidates"] if c.get("model") != editor]
                rec["candidates"].append({"model": editor, "image": f"{editor}/{rec['key']}.png"})
            lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
    return gallery / f"metadata_{editor}.jsonl", "".join(lines)


def _query(rec: dict, row: int) -> tuple[str, str | None, Problem | None]:
    """A query's key and its source image (written once into the cache folder), or the problem that stops it."""
    key = str(rec.get("key", "-"))
    missing = [c for c in REQUIRED if rec.get(c) is None]
    if missing:
        return key, None, Problem(row, key, Kind.MISSING_FIELD, f"missing {', '.join(missing)}")
    try:
        plain_name(key, "key")
        return key, embedded_image(rec["source_image"], cache_root() / "geditv2-sources", key), None
    except ValueError as e:
        return key, None, Problem(row, key, Kind.OUTSIDE_ROOT, f"path escapes the data root: {e}")


def read_candidates(path: Path) -> dict[str, dict[str, str]]:
    """The gallery's metadata: key -> {editor: its image, relative to the gallery}.

    Raises:
        ValueError: a line that is not a JSON object with a key and a list of candidates.
    """
    listed: dict[str, dict[str, str]] = {}
    for n, line in enumerate(read_text_file(path, "data.candidates").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            listed[str(rec["key"])] = {str(c["model"]): str(c["image"]) for c in rec["candidates"]}
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path} line {n}: not a {{key, candidates: [{{model, image}}]}} object ({e!r})") from None
    return listed


def _editors(data_cfg, listed: dict[str, dict[str, str]], gallery: Path) -> tuple[list[str], list[Problem]]:
    """The editors compared: those named (default: every one the metadata lists) that have a gallery folder of at
    least ``data.min_outputs`` files; a named editor without a folder is a problem, as its loader stops there."""
    named = [str(e) for e in data_cfg.editors] or sorted({m for c in listed.values() for m in c}, key=name_order)
    editors, problems, few = [], [], []
    for name in named:
        try:
            plain_name(name, "editor")
            if "_vs_" in name:
                raise ValueError(f"editor {name!r} holds _vs_, which its Elo script splits a pair's id at")
        except ValueError as e:
            problems.append(Problem(0, name, Kind.BAD_VALUE, str(e)))
            continue
        folder = gallery / name
        if not folder.is_dir():
            problems.append(Problem(0, name, Kind.FILE, f"editor {name} has no folder in the gallery {gallery}"))
            continue
        count = sum(1 for _ in folder.iterdir())
        if count < data_cfg.min_outputs:
            log.warning("editor %s has %d outputs (< data.min_outputs=%d): left out, as GEditBench v2's loader "
                        "leaves it out", name, count, data_cfg.min_outputs)  # fmt: skip
            few.append(f"{name} ({count})")
            continue
        editors.append(name)
    if len(editors) < 2 and not problems:
        why = f"{len(editors)} editor(s) to compare, not two or more"
        if few:
            why += f"; left out with fewer than data.min_outputs={data_cfg.min_outputs} outputs: {', '.join(few)}"
        problems.append(Problem(0, "-", Kind.BAD_VALUE, why))
    return editors, problems


def _output(gallery: Path, editor: str, key: str, candidates: dict[str, str]) -> Path | None:
    """An editor's image for a query: the one the metadata lists, else ``<gallery>/<editor>/<key>.png`` if that
    exists; None where it has none.

    Raises:
        ValueError: the listed image lies outside the gallery.
    """
    if editor in candidates:
        return inside_root(gallery / candidates[editor], gallery, "candidate image")
    made = gallery / editor / f"{key}.png"
    return made if made.is_file() else None
