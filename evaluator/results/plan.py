"""The run plan: which samples to score now, which an earlier run already scored, which cannot be scored, and
merging all of them back into one row per input, in input order.

Rank 0 makes the plan from every rank's pre-flight findings and sends it to all; every rank follows it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evaluator.inputs.preflight import Findings, duplicate_ids
from evaluator.inputs.readers import Loaded
from evaluator.inputs.samples import Kind, Problem, Sample
from evaluator.results import resume
from evaluator.runtime.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """What this run does with every input row."""

    todo: list[Sample] = field(default_factory=list)  # to score now, in input order
    sizes: list[dict] = field(default_factory=list)  # each todo sample's upright image sizes, by role
    digests: dict[str, str] = field(default_factory=dict)  # each todo sample's input digest, by id
    done: list[Sample] = field(default_factory=list)  # scored by an earlier run under the same fingerprint
    previous: dict[str, dict] = field(default_factory=dict)  # those rows, by id
    missing: list[Sample] = field(default_factory=list)  # no edited image: "missing edit" rows
    skipped: list[dict] = field(default_factory=list)  # one error row per input row that cannot be scored
    copies: list[tuple[Sample, str]] = field(default_factory=list)  # (sample, id of the sample judged for it)


def make_plan(
    loaded: Loaded,
    findings: Findings,
    where: str,
    on_error: str,
    previous: dict[str, dict] | None = None,
    work: tuple[str, str] = ("scored", "scoring"),
    paths_from: Path | None = None,
    share_identical: bool = False,
) -> Plan:
    """Decide the fate of every input row.

    Args:
        loaded: the samples as the layout read them, with the problems found while reading.
        findings: the pre-flight findings of every rank, merged.
        where: the input's name, for messages.
        on_error: ``skip`` (bad rows become error rows, the rest is scored) or ``fail``.
        previous: rows of an earlier run under the same fingerprint, by id (resume).
        work: what the stage does to a sample, for messages: ("scored", "scoring") or ("edited", "editing").
        paths_from: the folder relative image paths were taken from, named when every row is skipped.
        share_identical: judge once the samples whose whole input is the same (their input digests equal) and give
            the others that judgement (``same_as``): a pairs file lists one edit in several pairs (EditScore's set
            holds each pair once per dimension).

    Raises:
        DataError: with every problem, when the input cannot be scored (``fail``, the file itself is bad, or every
            row has a problem: a run that would judge nothing never ends as if it had succeeded).
    """
    everything = loaded.samples + loaded.missing
    problems = sorted(loaded.problems + duplicate_ids(everything) + findings.problems, key=lambda p: p.row)
    _refuse(problems, everything, where, on_error, work[0], paths_from)
    bad = {p.row for p in problems}
    plan = Plan(skipped=skip_rows(problems, everything), missing=[s for s in loaded.missing if s.row not in bad])
    if problems:
        log.warning("%s", DataError(where, problems))
        total = len(everything) + len([r for r in plan.skipped if r["_row"] not in {s.row for s in everything}])
        log.warning("skipping %d of %d rows (data.on_error=skip); they get error rows", len(plan.skipped), total)
    changed = _split_by_resume(plan, loaded, findings, bad, previous or {})
    if share_identical:
        _share_identical(plan)
    scorable = len(plan.todo) + len(plan.done) + len(plan.copies)
    log.info("%d samples checked in %s", scorable, where)
    if plan.copies:
        log.info("%d samples repeat another's input exactly; each is judged once", len(plan.copies))
    if plan.done:
        log.info("resuming: %d of %d samples were %s by an earlier run", len(plan.done), scorable, work[0])
    if changed:
        log.warning("%d of %d samples changed since the last run; %s them again", changed, scorable, work[1])
    if plan.missing:
        log.warning("%d samples have no edited image; they are reported as 'missing edit'", len(plan.missing))
    return plan


def _split_by_resume(plan: Plan, loaded: Loaded, findings: Findings, bad: set[int], previous: dict) -> int:
    """Put each good sample in ``plan.done`` (scored before, same digest) or ``plan.todo``; the number of samples
    scored before whose input changed."""
    changed = 0
    # By position, not row: a pair's two samples share their input row.
    for pos, s in enumerate(loaded.samples):
        if s.row in bad:
            continue
        digest = findings.digests[pos]
        if s.id in previous and previous[s.id].get("digest") == digest:
            plan.done.append(s)
            plan.previous[s.id] = previous[s.id]
            continue
        changed += s.id in previous
        plan.todo.append(s)
        plan.sizes.append(findings.sizes[pos])
        plan.digests[s.id] = digest
    return changed


def _share_identical(plan: Plan) -> None:
    """Move every todo sample whose input digest an earlier sample (scored before, or first in input order) has
    into ``plan.copies``."""
    first = {plan.previous[s.id]["digest"]: s.id for s in reversed(plan.done)}
    todo, sizes = [], []
    for s, size in zip(plan.todo, plan.sizes, strict=True):
        digest = plan.digests[s.id]
        if digest in first:
            plan.copies.append((s, first[digest]))
            del plan.digests[s.id]
        else:
            first[digest] = s.id
            todo.append(s)
            sizes.append(size)
    plan.todo, plan.sizes = todo, sizes


def _refuse(problems: list[Problem], everything: list[Sample], where: str, on_error: str, done: str,
            paths_from: Path | None) -> None:  # fmt: skip
    """Raises: DataError where the input cannot be worked on: the file itself is bad, ``data.on_error=fail`` meets
    a problem, there is no row, or every row has a problem (a run that would do nothing never ends as if it had
    succeeded; relative paths written from the wrong folder are the usual cause, so the folder is named)."""
    fatal = [p for p in problems if p.row == 0]
    if fatal or (problems and on_error == "fail"):
        raise DataError(where, fatal or problems)
    if not everything and not problems:
        raise DataError(where, [Problem(0, "-", Kind.NO_SAMPLES, "no samples")])
    bad = {p.row for p in problems}
    if problems and all(s.row in bad for s in everything):
        where_from = ""
        if paths_from:
            where_from = (f"relative image paths were read from {paths_from}, the input's folder (data.root sets "
                          "another), not from the current folder; ")  # fmt: skip
        raise DataError(where, problems, f"every row has a problem, so nothing is {done}: {where_from}fix the rows, "
                        "or drop them from the input")  # fmt: skip


def skip_rows(problems: Sequence[Problem], samples: Sequence[Sample]) -> list[dict]:
    """An error row for every input row with problems, with its reasons.

    A row with a duplicate id keeps its place as ``<id>#row<n>``, so the results still hold every id once. A pair's
    row (``data=pairs``) is one error row with the pair's fields, whatever its samples: it is no order's verdict.
    """
    by_row: dict[int, list[Problem]] = {}
    for p in problems:
        by_row.setdefault(p.row, []).append(p)
    samples_by_row = {s.row: s for s in samples}
    rows = []
    for row, found in by_row.items():
        sample = samples_by_row.get(row)
        fields = sample.input_fields() if sample else {"id": found[0].id}
        if sample is None or any(p.kind is Kind.DUPLICATE_ID for p in found):
            fields["id"] = f"{fields['id']}#row{row}"
        reasons = sorted({p.reason for p in found})
        rows.append({"_row": row, **fields, "score": None, "error": "skipped: " + "; ".join(reasons),
                     "error_detail": "; ".join(p.message for p in found), "rank": None})  # fmt: skip
    return rows


def merge_rows(shards: Sequence[Sequence[dict]], plan: Plan) -> list[dict]:
    """Every input row once, in input order, with its input fields: the rows scored now (from every rank), those
    an earlier run scored, "missing edit" rows and skipped rows.

    Raises:
        RuntimeError: if a sample was scored twice or not at all; a table is never silently wrong.
    """
    fresh: dict[str, dict] = {}
    for row in (r for shard in shards for r in shard):
        if row["id"] in fresh:
            raise RuntimeError(
                f"sample {row['id']!r} was scored twice (ranks {fresh[row['id']]['rank']}, {row['rank']})"
            )
        fresh[row["id"]] = row
    unscored = [s.id for s in plan.todo if s.id not in fresh]
    if unscored:
        raise RuntimeError(f"{len(unscored)} sample(s) were not scored: {unscored[:10]}")
    extra = sorted(set(fresh) - {s.id for s in plan.todo})
    if extra:
        raise RuntimeError(f"{len(extra)} row(s) were scored that the plan did not hold: {extra[:10]}")
    merged = [(s.row, {**s.fields(), **_result(fresh[s.id])}) for s in plan.todo]
    merged += [(s.row, {**s.fields(), **_result(plan.previous[s.id])}) for s in plan.done]
    judged = {**plan.previous, **fresh}
    merged += [(s.row, {**s.fields(), **_result(judged[src]), "same_as": src}) for s, src in plan.copies]
    merged += [(s.row, {**s.fields(), "score": None, "error": "missing edit", "rank": None}) for s in plan.missing]
    merged += [(r["_row"], {k: v for k, v in r.items() if k != "_row"}) for r in plan.skipped]
    return [row for _, row in sorted(merged, key=lambda pair: pair[0])]


def _result(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("id", "digest")}


def rows_to_resume(out_dir: Path, fingerprint: str, keep: bool) -> dict[str, dict]:
    """The rows to resume from: an earlier run's under this fingerprint (with their digests), or none (and the
    shards cleared)."""
    if not keep:
        resume.clear(out_dir)
        return {}
    return resume.read_previous(out_dir, fingerprint)
