"""Checking every input row before any model loads, each rank its own share of the rows.

Reading a manifest is cheap and every rank does it; decoding every image is not, so rank ``r`` of ``w`` decodes
the samples ``r, r + w, ...`` and the findings are gathered on rank 0, which decides the plan
(``evaluator.results.plan``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from evaluator.inputs import readers
from evaluator.inputs.images import DEFAULT_LIMITS, ImageLimits, check_image
from evaluator.inputs.readers import Loaded
from evaluator.inputs.samples import Kind, Problem, Sample
from evaluator.runtime import stopping
from evaluator.runtime.hashing import file_digest

Size = tuple[int, int]


@dataclass
class Findings:
    """One rank's share of the pre-flight check: the problems found; and for the samples that passed (by their
    position in the input) their upright image sizes, which the cost model shards by, and their input digests,
    which resume keys on."""

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
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


def check_share(
    samples: Sequence[Sample],
    limits: ImageLimits,
    rank: int = 0,
    world_size: int = 1,
    no_edit: frozenset[int] = frozenset(),
    tokens: Callable[[str], int] | None = None,
    max_tokens: int = 0,
    threads: int = 8,
    limit: str = "data.max_prompt_tokens",
    unit: str = "tokens",
    upright: bool = True,
) -> Findings:
    """Decode this rank's share of the images (fully, so truncated files are caught), in threads, since decoding
    releases the GIL. Samples whose position is in ``no_edit`` have no edited image (a benchmark's missing output)
    and get only their source checked. With ``tokens`` (text -> the judge's token count), an instruction over
    ``max_tokens`` makes its row a problem: one such row would cost minutes and memory quadratic in its length.
    ``limit`` and ``unit`` name the setting and what it counts in the message (the editing stage counts characters).
    The sizes found are upright ones unless ``upright=False`` (the editing stage's output sizes follow them).
    """
    positions = range(rank, len(samples), world_size)

    def one(pos: int) -> tuple[dict[str, Size], list[Problem], str]:
        s, sizes, problems, digests = samples[pos], {}, [], {}
        if tokens is not None and (n := tokens(s.instruction)) > max_tokens:
            message = f"instruction too long: {n} {unit} > {limit}={max_tokens}"
            return {}, [Problem(s.row, s.id, Kind.TOO_LONG, message)], ""
        roles = ("source",) if pos in no_edit else s.images
        for role in roles:
            size, problem = check_image(getattr(s, role), role, limits, upright)
            if problem:
                problems.append(Problem(s.row, s.id, *problem))
            else:
                sizes[role], digests[role] = size, file_digest(getattr(s, role))
        return sizes, problems, input_digest(s, digests)

    found = Findings()
    with ThreadPoolExecutor(threads) as pool:
        for pos, (sizes, problems, digest) in zip(positions, pool.map(one, positions), strict=True):
            stopping.raise_if_stopped(" while checking the inputs")
            found.problems += problems
            if not problems:
                found.sizes[pos], found.digests[pos] = sizes, digest
    return found


def read_and_check(
    data_cfg,
    rank: int = 0,
    world_size: int = 1,
    tokenizer=None,
    max_chars: int | None = None,
    pairwise: bool = False,
    reserved: Sequence[str] = (),
) -> tuple[Loaded, Findings]:
    """Read the configured layout (every rank, in full) and check this rank's share of its rows; with the
    judge's ``tokenizer``, instructions longer than ``data.max_prompt_tokens`` too; with ``max_chars`` (a judge on
    a server, whose tokenizer is not here), instructions longer than ``api.max_instruction_chars``. ``pairwise``
    and ``reserved`` (the judge's criteria) are the reader's (see ``readers.read_samples``)."""
    loaded = readers.read_samples(data_cfg, pairwise, reserved)
    everything = loaded.samples + loaded.missing
    no_edit = frozenset(range(len(loaded.samples), len(everything)))
    limits = ImageLimits.from_config(data_cfg)
    if tokenizer is not None:
        tokens = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
        return loaded, check_share(everything, limits, rank, world_size, no_edit, tokens, data_cfg.max_prompt_tokens)
    if max_chars is not None:
        return loaded, check_share(everything, limits, rank, world_size, no_edit, len, max_chars,
                                   limit="api.max_instruction_chars", unit="characters")  # fmt: skip
    return loaded, check_share(everything, limits, rank, world_size, no_edit)


def merge(shares: Sequence[Findings]) -> Findings:
    """The findings of every rank's share as one."""
    out = Findings()
    for share in shares:
        out.problems += share.problems
        out.sizes.update(share.sizes)
        out.digests.update(share.digests)
    return out


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
    found = check_share(samples, limits, no_edit=frozenset(no_edit))
    return sorted(duplicate_ids(samples) + found.problems, key=lambda p: p.row)
