"""Checking every input row before any model loads, the work shared by the ranks.

Reading a manifest is cheap and every rank does it. Looking at the images is not: the distinct image files are
shared out (rank ``r`` of ``w`` takes every ``w``-th of them, sorted), so each file is looked at once per run
however many rows and ranks name it, and a file unchanged since an earlier run is not read at all
(``evaluator.inputs.image_checks``). The instructions' lengths are checked by the ranks' shares of the rows. Rank 0
gathers the shares, judges every row from them (``merge``) and decides the plan (``evaluator.results.plan``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from evaluator.inputs import readers
from evaluator.inputs.image_checks import Facts, FactsStore, examine, file_identity, judged
from evaluator.inputs.images import DEFAULT_LIMITS, ImageLimits
from evaluator.inputs.readers import Loaded
from evaluator.inputs.samples import Kind, Problem, Sample
from evaluator.runtime import stopping
from evaluator.runtime.tiny import cache_root
from evaluator.runtime.topology import cpus_per_rank

Size = tuple[int, int]


@dataclass
class Share:
    """One rank's part of the check: the rows of its share whose instruction is too long (``problems``, and their
    positions in ``refused``), and what each image file of its share of the files is (None: no such file)."""

    problems: list[Problem] = field(default_factory=list)
    refused: set[int] = field(default_factory=set)
    facts: dict[str, Facts | None] = field(default_factory=dict)


@dataclass
class Findings:
    """The whole check: the problems found; and for the samples that passed (by their position in the input) their
    upright image sizes, which the cost model shards by, and their input digests, which resume keys on."""

    problems: list[Problem] = field(default_factory=list)
    sizes: dict[int, dict[str, Size]] = field(default_factory=dict)
    digests: dict[int, str] = field(default_factory=dict)


def input_digest(sample: Sample, image_digests: dict[str, str]) -> str:
    """SHA-256 of everything of a sample that reaches the judge: its images' bytes (in the order shown), the
    instruction, and the fields the prompt can use (the category picks a rubric, the language can be named). A row
    scored before is reused only under the same digest."""
    fields = [image_digests.get("source"), image_digests.get("edited"), sample.instruction, sample.category,
              sample.language]  # fmt: skip
    if sample.second:  # the candidate shown second: which edit is shown first is part of what the judge sees
        fields.append(image_digests.get("second"))
    if "variants" in sample.extra:  # a benchmark's per-item prompts: which are asked and the texts they fill in
        fields += [image_digests.get("reference"), sorted(sample.extra.items())]
    if sample.more_sources:  # further input images (KRIS-Bench), in the order the layout gives them
        fields += [image_digests.get(role) for role in sample.images if role[6:].isdigit()]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


def _roles(sample: Sample, pos: int, no_edit: frozenset[int]) -> tuple[str, ...]:
    return ("source",) if pos in no_edit else sample.images


def check_share(
    samples: Sequence[Sample],
    limits: ImageLimits,
    rank: int = 0,
    world_size: int = 1,
    no_edit: frozenset[int] = frozenset(),
    tokens: Callable[[str], int] | None = None,
    max_tokens: int = 0,
    limit: str = "data.max_prompt_tokens",
    unit: str = "tokens",
    store: Path | None = None,
    threads: int | None = None,
) -> Share:
    """This rank's part: its share of the distinct image files looked at (``image_checks.examine``: read once,
    hashed, decoded as cheaply as proves it whole) in ``threads`` (default: the CPUs this rank has), since decoding
    and hashing release the GIL, each unless ``store`` (an sqlite file; None: none) has it from an earlier run of
    the unchanged file; and with ``tokens`` (text -> the judge's token count), the rows of its share whose
    instruction is over ``max_tokens``: one such row would cost minutes and memory quadratic in its length.
    ``limit`` and ``unit`` name the setting and what it counts (the editing stage counts characters). Samples
    whose position is in ``no_edit`` have no edited image (a benchmark's missing output, or the editing stage's
    rows): only their source is looked at."""
    share = Share()
    if tokens is not None:
        for pos in range(rank, len(samples), world_size):
            s = samples[pos]
            if (n := tokens(s.instruction)) > max_tokens:
                message = f"instruction too long: {n} {unit} > {limit}={max_tokens}"
                share.problems.append(Problem(s.row, s.id, Kind.TOO_LONG, message))
                share.refused.add(pos)
    paths = sorted({s.image(r) for pos, s in enumerate(samples) for r in _roles(s, pos, no_edit)})
    share.facts = _facts(paths[rank::world_size], limits, threads, store)
    return share


def _facts(paths: list[str], limits: ImageLimits, threads: int | None, store: Path | None) -> dict:
    """Every file's facts: kept ones where the file is unchanged, else examined (and kept); None where there is
    no regular file."""
    keys = {p: k for p in paths if (k := file_identity(p)) is not None}
    out: dict[str, Facts | None] = dict.fromkeys(p for p in paths if p not in keys)
    kept = FactsStore(store)
    try:
        known = kept.read(list(keys.values()))
        out.update({p: known[k] for p, k in keys.items() if k in known and _still_holds(known[k], limits)})
        todo = [p for p in keys if p not in out]

        def one(path: str) -> Facts:
            stopping.raise_if_stopped(" while checking the inputs")
            return examine(path, limits.max_pixels)

        with ThreadPoolExecutor(threads or cpus_per_rank()) as pool:
            out.update(zip(todo, pool.map(one, todo), strict=True))
        kept.write({keys[p]: out[p] for p in todo})
    finally:
        kept.close()
    return out


def _still_holds(facts: Facts, limits: ImageLimits) -> bool:
    """Whether kept facts answer under these limits: a file refused from its header as too large must be looked
    at again once a larger limit lets it in."""
    return facts.pixels_checked or facts.size[0] * facts.size[1] > limits.max_pixels


def merge(
    shares: Sequence[Share],
    samples: Sequence[Sample],
    limits: ImageLimits,
    no_edit: frozenset[int] = frozenset(),
    upright: bool = True,
) -> Findings:
    """Every row judged from the ranks' shares: its problems, or its sizes (upright unless ``upright=False``: the
    editing stage's output sizes follow the stored ones) and input digest."""
    facts = {p: f for share in shares for p, f in share.facts.items()}
    found = Findings(problems=[p for share in shares for p in share.problems])
    refused = set().union(*(share.refused for share in shares))
    for pos, s in enumerate(samples):
        if pos in refused:
            continue
        sizes, problems, digests = {}, [], {}
        for role in _roles(s, pos, no_edit):
            path = s.image(role)
            size, problem = judged(facts[path], path, role, limits, upright)
            if problem:
                problems.append(Problem(s.row, s.id, *problem))
            else:
                sizes[role], digests[role] = size, facts[path].digest
        found.problems += problems
        if not problems:
            found.sizes[pos], found.digests[pos] = sizes, input_digest(s, digests)
    return found


def read_and_check(
    data_cfg,
    rank: int = 0,
    world_size: int = 1,
    tokenizer=None,
    max_chars: int | None = None,
    pairwise: bool = False,
    reserved: Sequence[str] = (),
) -> tuple[Loaded, Share]:
    """Read the configured layout (every rank, in full) and check this rank's part; with the judge's
    ``tokenizer``, instructions longer than ``data.max_prompt_tokens`` too; with ``max_chars`` (a judge on a server,
    whose tokenizer is not here), instructions longer than ``api.max_instruction_chars``. ``pairwise`` and
    ``reserved`` (the judge's criteria) are the reader's (see ``readers.read_samples``). ``findings_of`` merges."""
    loaded = readers.read_samples(data_cfg, pairwise, reserved)
    everything, no_edit = _everything(loaded)
    args = (everything, ImageLimits.from_config(data_cfg), rank, world_size, no_edit)
    if tokenizer is not None:
        tokens = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
        return loaded, check_share(*args, tokens, data_cfg.max_prompt_tokens, store=image_facts_store())
    if max_chars is not None:
        return loaded, check_share(*args, len, max_chars, "api.max_instruction_chars", "characters",
                                   store=image_facts_store())  # fmt: skip
    return loaded, check_share(*args, store=image_facts_store())


def _everything(loaded: Loaded) -> tuple[list[Sample], frozenset[int]]:
    """The samples to judge, then those without an edit (a benchmark's missing outputs), and the latter's
    positions."""
    everything = loaded.samples + loaded.missing
    return everything, frozenset(range(len(loaded.samples), len(everything)))


def findings_of(data_cfg, loaded: Loaded, shares: Sequence[Share]) -> Findings:
    """``merge`` for the judge's data."""
    everything, no_edit = _everything(loaded)
    return merge(shares, everything, ImageLimits.from_config(data_cfg), no_edit, bool(data_cfg.exif_transpose))


def image_facts_store() -> Path:
    """Where the image checks are kept: ``image-checks.sqlite`` in the cache folder (``$EVALUATOR_CACHE``, default
    ``~/.cache/evaluator``), shared by every run and rank of this machine."""
    return cache_root() / "image-checks.sqlite"


def duplicate_ids(samples: Sequence[Sample]) -> list[Problem]:
    """Every row whose id an earlier row already has."""
    problems, seen = [], {}
    for s in samples:
        if s.id in seen:
            problems.append(Problem(s.row, s.id, Kind.DUPLICATE_ID, f"duplicate id (first at row {seen[s.id]})"))
        seen.setdefault(s.id, s.row)
    return problems


def check_samples(
    samples: Sequence[Sample], limits: ImageLimits = DEFAULT_LIMITS, no_edit=frozenset()
) -> list[Problem]:
    """All problems of ``samples`` in one process: duplicate ids and every image (for tests and small sets)."""
    no_edit = frozenset(no_edit)
    found = merge([check_share(samples, limits, no_edit=no_edit)], samples, limits, no_edit)
    return sorted(duplicate_ids(samples) + found.problems, key=lambda p: p.row)
