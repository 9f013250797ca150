"""Serving the samples of the plan to each rank: the dataset, and the DataModule that shards it."""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence

import lightning as L
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from evaluator.inputs.images import DEFAULT_LIMITS, ImageLimits, load_rgb, shrink
from evaluator.inputs.samples import Sample
from evaluator.runtime.sampler import LengthBatches, ShardSampler
from evaluator.runtime.topology import cpu_count

log = logging.getLogger(__name__)

# data.batch_size=auto tries batches of up to this many samples.
AUTO_BATCH_MAX = 64


class PairDataset(Dataset):
    """Serves each sample with its decoded source and edited images.

    With ``resize_edited`` the edit is resized to the source's size first, with PIL's bicubic filter, as
    GEdit-Bench does before judging; ``upright=False`` ignores EXIF orientation, as GEdit-Bench does too.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        resize_edited: bool = False,
        limits: ImageLimits = DEFAULT_LIMITS,
        upright: bool = True,
        max_side: int | None = None,
    ):
        self.samples = list(samples)
        self.max_side = max_side
        self.resize_edited = resize_edited
        self.limits = limits
        self.upright = upright

    @classmethod
    def from_config(cls, samples: Sequence[Sample], data_cfg) -> PairDataset:
        """The samples as ``data_cfg`` says to serve them: resizing, image limits, orientation."""
        limits = ImageLimits.from_config(data_cfg)
        return cls(samples, data_cfg.resize_edited, limits, data_cfg.exif_transpose, data_cfg.max_side)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        s = self.samples[index]
        images = {role: load_rgb(s.image(role), self.limits, self.upright) for role in s.images}
        source = images["source"]
        for role in s.images[1:]:
            if self.resize_edited and images[role].size != source.size:
                images[role] = images[role].resize(source.size, Image.Resampling.BICUBIC)
        return {"sample": s, **{role: shrink(im, self.max_side) for role, im in images.items()}}


class ShardedData(L.LightningDataModule):
    """Shards a plain list of samples over the trainer's ranks, each sample to exactly one rank, balanced by
    ``costs`` (one estimate per sample; None: strided). With ``keys`` a batch holds samples of one key only (an
    editor's output size). The judge and the editing stage both serve their samples through it."""

    def __init__(
        self,
        dataset: Dataset,
        collate: Callable,
        batch_size: int | str,
        num_workers: int,
        costs: Sequence[float] | None = None,
        batch_size_for: Callable[[list[dict]], int] | None = None,
        keys: Sequence | None = None,
    ):
        super().__init__()
        # With fewer samples than ranks some ranks get none; they must still take part, not fail.
        self.allow_zero_length_dataloader_with_multiple_devices = True
        self.dataset = dataset
        self.collate = collate
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.costs = costs
        self.batch_size_for = batch_size_for
        self.keys = keys

    def predict_dataloader(self) -> DataLoader:
        sampler = ShardSampler(
            self.dataset, num_replicas=self.trainer.world_size, rank=self.trainer.global_rank, costs=self.costs
        )
        batch_size = self.batch_size
        if batch_size == "auto":
            # The sampler puts this rank's heaviest samples first: what fits for them fits for every batch.
            heaviest = [self.dataset[i] for i in list(sampler)[:AUTO_BATCH_MAX]]
            batch_size = self.batch_size_for(heaviest) if heaviest else 1
        workers = workers_per_rank(self.num_workers, self.trainer.num_devices)
        costs = self.costs or [1.0] * len(self.dataset)
        return DataLoader(
            self.dataset,
            batch_sampler=LengthBatches(list(sampler), costs, int(batch_size), self.keys),
            num_workers=workers,
            collate_fn=self.collate,
            pin_memory=self.trainer.strategy.root_device.type == "cuda",
            persistent_workers=False,
            # By now this process runs gloo, store and queue threads; a worker forked from it can deadlock inside
            # fork() on a lock one of them held. Workers fork from a clean server process instead.
            multiprocessing_context=_worker_context() if workers > 0 else None,
            worker_init_fn=functools.partial(exit_with, os.getpid()) if workers > 0 else None,
        )


AUTO_WORKERS_MAX = 8  # beyond this, more workers per rank only add start-up time and memory


def workers_per_rank(requested, ranks_here: int) -> int:
    """``data.num_workers``: ``auto`` is the CPUs each of this node's ranks has, less one for the rank itself, at
    most ``AUTO_WORKERS_MAX`` (16 CPUs and 6 ranks: 1 worker each; 128 CPUs and 8 ranks: 8); a number is capped to
    the same (more workers would only compete for the CPUs)."""
    cap = max(cpu_count() // max(ranks_here, 1) - 1, 0)
    if requested == "auto":
        return min(cap, AUTO_WORKERS_MAX)
    if requested > cap:
        log.debug(
            "data.num_workers=%d capped to %d: the CPUs each of the %d ranks here has", requested, cap, ranks_here
        )
    return min(requested, cap)


def exit_with(pid: int, worker_id: int = 0, poll_seconds: float = 1.0) -> None:
    """In a DataLoader worker: end this process within ``poll_seconds`` of the rank ``pid`` ending.

    A forkserver's workers are its children, not the rank's, so PyTorch's own check (is my parent still there?)
    keeps passing after a ``kill -9`` of the rank, and the worker and the server were seen alive 43 minutes on.
    """

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # alive, owned by another user: not ours to judge
                pass

    threading.Thread(target=watch, name="evaluator-exit-with-rank", daemon=True).start()


def _worker_context() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
