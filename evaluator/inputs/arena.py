"""Every pair of editors on every id (``python -m evaluator.arena``, ``data.layout: arena``): the pairs an arena
judges, read from one manifest per editor (``arena.editors.NAME=PATH``).

For each id that two editors both have, and each two editors in name order, the pair ``<id>:<X>-vs-<Y>`` has X's
edit as A and Y's as B, and becomes samples as any pair does (see ``evaluator.inputs.pairs``), each carrying
``editor_a``, ``editor_b`` and ``sample_id``. Two editors' rows of one id must have the same source and
instruction (the same source bytes where the paths differ), or they edited different things: that pair is a problem
row. The editors' edits may also be GEdit-Bench results roots or ImgEdit-Bench edits folders (``arena.layout``).
With ``max_pairs``, a seeded random subset of the pairs is judged, the same for every rank and every rerun.
"""

from __future__ import annotations

import itertools
import logging
import random
from pathlib import Path

from evaluator.inputs.manifest import sample_of
from evaluator.inputs.pairs import pair_records
from evaluator.inputs.samples import Kind, Problem, Sample
from evaluator.runtime.hashing import file_digest

log = logging.getLogger(__name__)


def _same_file(a: str, b: str) -> bool:
    """Whether two paths hold the same bytes (a GEdit-Bench editor saves its own copy of each source)."""
    if a == b:
        return True
    try:
        return file_digest(a) == file_digest(b)
    except OSError:
        return False  # a source that cannot be read is the pre-flight check's to report


def read_arena(data_cfg, read_editor, pairwise: bool = True) -> tuple[list[Sample], list[Problem]]:
    """The samples of every pair of editors on every id they share, and the problems of the editors' inputs (each
    named by its editor) and of pairs whose two rows disagree. ``read_editor(name, path)`` reads one editor's
    edits (a ``Loaded``) in the arena's editor layout."""
    by_editor, problems = {}, []
    for name in sorted(data_cfg.editors):
        loaded = read_editor(name, data_cfg.editors[name])
        problems += [Problem(p.row, f"{name}:{p.id}", p.kind, f"{name}: {p.message}") for p in loaded.problems]
        by_editor[name] = {s.id: s for s in loaded.samples}
        if loaded.missing:
            log.warning("editor %s has no edit for %d id(s); its pairs on them are left out", name, len(loaded.missing))
    pairs = [
        (sample_id, x, y)
        for x, y in itertools.combinations(sorted(by_editor), 2)
        for sample_id in sorted(set(by_editor[x]) & set(by_editor[y]))
    ]
    if data_cfg.max_pairs is not None and len(pairs) > data_cfg.max_pairs:
        pairs = sorted(random.Random(data_cfg.seed).sample(pairs, data_cfg.max_pairs))
    shared = set.intersection(*(set(s) for s in by_editor.values())) if by_editor else set()
    if any(len(s) > len(shared) for s in by_editor.values()):
        log.warning("%d id(s) are not in every editor's manifest; only editors that both have an id are compared "
                    "on it", len(set().union(*by_editor.values()) - shared))  # fmt: skip
    # A manifest's own problems come after the pairs' rows: a row number names one input row of the run.
    problems = [Problem(len(pairs) + i, p.id, p.kind, p.message) for i, p in enumerate(problems, start=1)]
    out = []
    for row, (sample_id, x, y) in enumerate(pairs, start=1):
        a, b = by_editor[x][sample_id], by_editor[y][sample_id]
        pair_id = f"{sample_id}:{x}-vs-{y}"
        if a.instruction != b.instruction or not _same_file(a.source, b.source):
            problems.append(Problem(row, pair_id, Kind.BAD_VALUE, f"{x} and {y} edited different sources or "
                                    "instructions under this id"))  # fmt: skip
            continue
        rec = {"id": pair_id, "source": a.source, "instruction": a.instruction, "edited_a": a.edited,
               "edited_b": b.edited, "category": a.category, "language": a.language,
               "editor_a": x, "editor_b": y, "sample_id": sample_id}  # fmt: skip
        for sample_rec in pair_records(rec, pairwise):  # paths already resolved and checked against each root
            sample, problem = sample_of(sample_rec, row, Path("/"), Path("/"), allow_outside_root=True)
            if problem:
                problems.append(problem)
                break
            out.append(sample)
    return out, problems
