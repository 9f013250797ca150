"""Out of device memory in a batch: score (or edit) its halves, down to single samples, before giving up on one.

The judge and the editing stage share this, so both behave alike: a batch that does not fit costs a warning and
a few retries, and only a sample that does not fit alone gets an "out of memory" error row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import torch

log = logging.getLogger(__name__)

Batch = TypeVar("Batch")


def halving_on_oom(
    run: Callable[[Batch], list],
    batch: Batch,
    ids: Callable[[Batch], list[str]],
    split: Callable[[Batch, range], Batch],
    alone: Callable[[Batch], object],
) -> list:
    """``run(batch)``, one result per sample; on out-of-memory, ``run`` on each half (``split(batch, positions)``),
    recursively; a single sample that still does not fit gets ``alone(batch)`` as its result.

    Args:
        run: the work on a batch, returning one result per sample.
        batch: the batch.
        ids: the batch's sample ids, in order (for its size and the messages).
        split: the part of a batch that holds the samples at the given positions.
        alone: the result of a single sample that does not fit even alone.
    """
    try:
        return run(batch)
    except torch.OutOfMemoryError:
        pass  # leave the except block first, so the failed attempt's tensors can be freed
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    names = ids(batch)
    n = len(names)
    if n == 1:
        log.error("%s: out of memory even alone", names[0])
        return [alone(batch)]
    log.warning("out of memory on a batch of %d samples; running it as %d + %d", n, n // 2, n - n // 2)
    halves = (range(n // 2), range(n // 2, n))
    return [out for half in halves for out in halving_on_oom(run, split(batch, half), ids, split, alone)]
