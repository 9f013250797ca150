"""Pairs of edits to compare (``data=pairs``): a JSONL or CSV file of (id, source, instruction, edited_a, edited_b
[, category, language, human]) rows, ``human`` being a person's verdict (``A``, ``B`` or ``tie``) where there is one.

The judge never sees a pair as one sample. A pairwise scheme (one whose prompt shows a ``second`` image) asks about
every pair twice, once in each order: samples ``<id>#AB`` (A shown first) and ``<id>#BA``. A pointwise scheme scores
each edit on its own: samples ``<id>#A`` and ``<id>#B``. Each sample carries ``pair_id`` and ``order`` (or
``candidate``), so ``evaluator.results.pairs`` puts the verdicts back together; each is checked, digested and
resumed like any other sample, so a rerun asks nothing again and a changed edit is asked again.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from evaluator.inputs.manifest import OPTIONAL, kept_apart, read_records, sample_of
from evaluator.inputs.samples import Kind, Problem, Sample

REQUIRED = ("id", "source", "instruction", "edited_a", "edited_b")
VERDICTS = {"a": "A", "b": "B", "tie": "tie"}
ORDERS = {"AB": ("edited_a", "edited_b"), "BA": ("edited_b", "edited_a")}


def read_pairs(
    path: str | Path,
    root: str | Path | None = None,
    allow_outside_root: bool = False,
    pairwise: bool = True,
    reserved: Collection[str] = (),
) -> tuple[list[Sample], list[Problem]]:
    """The judge's samples of every pair (two per pair; see the module docstring), and a problem for every row that
    cannot be read, lacks a column, has an unknown ``human`` verdict or points outside the root. Columns named like
    the run's own fields (``order``, ``winner``, ``p_a``, the judge's ``reserved`` criteria, ...) are kept as
    ``input.<name>``: they never steer the run's bookkeeping."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        return [], [Problem(0, "-", Kind.FILE, f"pairs file not found: {path}")]
    root = Path(root).expanduser().resolve() if root else path.parent
    records, problems = read_records(path)
    records = kept_apart(records, (*REQUIRED, *OPTIONAL, "human"), reserved, path)
    samples: list[Sample] = []
    for row, rec in enumerate(records, start=1):
        if rec is None:
            continue
        problem = _check(rec, row)
        if problem:
            problems.append(problem)
            continue
        for sample_rec in pair_records(rec, pairwise, path.parent):
            sample, problem = sample_of(sample_rec, row, path.parent, root, allow_outside_root)
            if problem:  # the same row's problem once, not once per order
                problems.append(Problem(row, str(rec["id"]), problem.kind, problem.message))
                break
            samples.append(sample)
    return samples, problems


def _check(rec: dict, row: int) -> Problem | None:
    pair_id = str(rec.get("id") if rec.get("id") is not None else "-")
    missing = [k for k in REQUIRED if rec.get(k) is None or isinstance(rec.get(k), bool) or not str(rec[k]).strip()]
    if missing:
        return Problem(row, pair_id, Kind.MISSING_FIELD, f"missing {', '.join(missing)}")
    human = rec.get("human")
    if human not in (None, "") and str(human).strip().lower() not in VERDICTS:
        return Problem(row, pair_id, Kind.BAD_VALUE, f"human verdict is A, B or tie, not {str(human)[:40]!r}")
    return None


def pair_records(rec: dict, pairwise: bool, folder: Path = Path("/")) -> list[dict]:
    """The records of a pair's samples: one per order shown (pairwise), or one per edit (pointwise); ``folder`` is
    where relative image paths start."""
    pair_id = str(rec["id"])
    human = VERDICTS.get(str(rec.get("human") or "").strip().lower())
    common = {k: rec[k] for k in ("source", "instruction", *OPTIONAL) if k in rec}
    extra = {k: v for k, v in rec.items() if k not in (*REQUIRED, *OPTIONAL, "human")}
    # Both edits ride along on each sample, so a pair whose row is skipped still shows what it compared.
    common.update(
        extra,
        pair_id=pair_id,
        human=human,
        **{k: str((folder / str(rec[k])).resolve()) for k in ("edited_a", "edited_b")},
    )
    if pairwise:
        return [
            {**common, "id": f"{pair_id}#{order}", "edited": rec[first], "second": rec[second], "order": order}
            for order, (first, second) in ORDERS.items()
        ]
    return [
        {**common, "id": f"{pair_id}#{c}", "edited": rec[f"edited_{c.lower()}"], "candidate": c} for c in ("A", "B")
    ]


def check_pair_columns(path: str | Path) -> None:
    """Before anything starts: a pairs file whose first rows lack a required column (see ``check_columns``)."""
    from evaluator.inputs.manifest import check_columns

    check_columns(path, required=REQUIRED, what="a pairs file")
