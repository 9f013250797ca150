"""Checking every input row before any model loads, each rank its own share of the rows.

Reading a manifest is cheap and every rank does it; decoding every image is not, so rank ``r`` of ``w`` decodes
the samples ``r, r + w, ...`` and the findings are gathered on rank 0, which decides the plan (``evaluator.plan``).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from evaluator import benchmarks
from evaluator.benchmarks import Loaded
from evaluator.images import DEFAULT_LIMITS, ImageLimits, check_image
from evaluator.samples import Kind, Problem, Sample

Size = tuple[int, int]


@dataclass
class Findings:
    """One rank's share of the pre-flight check: the problems found, and the upright image sizes of the samples
    that passed (by their position in the input), which the cost model shards by."""

    problems: list[Problem] = field(default_factory=list)
    sizes: dict[int, dict[str, Size]] = field(default_factory=dict)


def check_share(
    samples: Sequence[Sample],
    limits: ImageLimits,
    rank: int = 0,
    world_size: int = 1,
    no_edit: frozenset[int] = frozenset(),
    threads: int = 8,
) -> Findings:
    """Decode this rank's share of the images (fully, so truncated files are caught), in threads, since decoding
    releases the GIL. Samples whose position is in ``no_edit`` have no edited image (a benchmark's missing output)
    and get only their source checked."""
    positions = range(rank, len(samples), world_size)

    def one(pos: int) -> tuple[dict[str, Size], list[Problem]]:
        s, sizes, problems = samples[pos], {}, []
        roles = ("source",) if pos in no_edit else ("source", "edited")
        for role in roles:
            size, problem = check_image(getattr(s, role), role, limits)
            if problem:
                problems.append(Problem(s.row, s.id, *problem))
            else:
                sizes[role] = size
        return sizes, problems

    found = Findings()
    with ThreadPoolExecutor(threads) as pool:
        for pos, (sizes, problems) in zip(positions, pool.map(one, positions), strict=True):
            found.problems += problems
            if not problems:
                found.sizes[pos] = sizes
    return found


def read_and_check(data_cfg, rank: int = 0, world_size: int = 1) -> tuple[Loaded, Findings]:
    """Read the configured layout (every rank, in full) and check this rank's share of its images."""
    loaded = benchmarks.read(data_cfg)
    everything = loaded.samples + loaded.missing
    no_edit = frozenset(range(len(loaded.samples), len(everything)))
    limits = ImageLimits.from_config(data_cfg)
    return loaded, check_share(everything, limits, rank, world_size, no_edit)


def merge(shares: Sequence[Findings]) -> Findings:
    """The findings of every rank's share as one."""
    out = Findings()
    for share in shares:
        out.problems += share.problems
        out.sizes.update(share.sizes)
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
