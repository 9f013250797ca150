"""Distributed helpers: the inference strategy, the trainer's topology, gathering rows and global progress."""

from __future__ import annotations

import contextlib
import os
import time

import lightning as L
import torch.distributed as dist
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.trainer.states import TrainerFn
from tqdm.auto import tqdm


def env_rank() -> int:
    """This process's global rank as the launcher set it (torchrun, Lightning, SLURM); 0 when launched alone."""
    for key in ("RANK", "SLURM_PROCID"):
        if key in os.environ:
            return int(os.environ[key])
    # Lightning's own launcher sets only LOCAL_RANK and NODE_RANK for the processes it starts.
    return int(os.environ.get("LOCAL_RANK", 0)) + int(os.environ.get("NODE_RANK", 0)) * int(
        os.environ.get("LOCAL_WORLD_SIZE", 1)
    )


class InferenceStrategy(DDPStrategy):
    """DDP for scoring: one process per device, no DDP wrapper, and no weight broadcast at set-up.

    Lightning's DDP strategy broadcasts every parameter from rank 0 before ``predict`` to keep the copies in
    sync; each rank here loads the same checkpoint itself, so that broadcast would only move ~60 GB for nothing.
    """

    def setup(self, trainer: L.Trainer) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().setup(trainer)
            return
        self.accelerator.setup(trainer)
        self.precision_plugin.convert_module(self.model)
        self.model_to_device()
        self.setup_precision_plugin()


def topology(trainer_cfg) -> tuple:
    """``(devices, num_nodes)`` for the Trainer; under torchrun they follow torchrun's own world."""
    devices, num_nodes = trainer_cfg.devices, trainer_cfg.num_nodes
    if "LOCAL_WORLD_SIZE" in os.environ and "TORCHELASTIC_RUN_ID" in os.environ and devices == "auto":
        devices = int(os.environ["LOCAL_WORLD_SIZE"])
        num_nodes = int(os.environ["WORLD_SIZE"]) // devices
    return devices, num_nodes


def initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


class RankFailed(RuntimeError):
    """Another rank failed; this one stops instead of waiting for it."""


class Coordinator:
    """What ranks tell each other outside collectives, through the process group's key-value store.

    Long waits (rank 0 for the others to finish their shards, every rank before gathering) poll the store rather
    than block in a collective, so a rank that fails and says so stops everyone within a second or two instead of
    leaving them in a 30-minute collective timeout. Keys are per run, so one process group can serve several.
    """

    def __init__(self):
        self.store = None
        self.prefix = "evaluator"
        self.rank, self.world_size = 0, 1
        self._group = None

    def start(self) -> None:
        """Join this run's key space; call on every rank once the process group exists."""
        if self.store is not None or not initialized():
            return
        self.store = dist.distributed_c10d._get_default_store()
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        # Every rank bumps the counter once per run, so the k-th run in a process group gets its own keys.
        run = (self.store.add("evaluator/runs", 1) - 1) // self.world_size
        self.prefix = f"evaluator/{run}"

    def add(self, name: str, n: int) -> int:
        """Add ``n`` to a counter shared by all ranks and return its new value."""
        return self.store.add(f"{self.prefix}/{name}", n) if self.store is not None else n

    def fail(self, error: BaseException) -> None:
        """Tell the other ranks that this one failed (best effort: the store may be gone already).

        The first failure is the one reported; a rank that stops because of another's says nothing.
        """
        if self.store is None or isinstance(error, RankFailed):
            return
        key, message = f"{self.prefix}/failed", f"rank {self.rank}: {type(error).__name__}: {error}"
        with contextlib.suppress(Exception):  # the store may be gone; the launcher stops the others then
            self.store.compare_set(key, "", message)

    def check(self) -> None:
        """Raise ``RankFailed`` if another rank said it failed."""
        if self.store is not None and self.store.check([f"{self.prefix}/failed"]):
            raise RankFailed(f"stopping because {self.store.get(f'{self.prefix}/failed').decode()}")

    def wait_for_all(self, name: str, poll_seconds: float = 0.2) -> None:
        """A barrier that notices failed ranks: returns once every rank arrived at ``name``."""
        if self.store is None:
            return
        self.add(name, 1)
        while self.add(name, 0) < self.world_size:
            self.check()
            time.sleep(poll_seconds)

    def broadcast(self, make):
        """``make()`` as computed on global rank 0, on every rank."""
        if self.store is None or self.world_size == 1:
            return make()
        obj = [make() if self.rank == 0 else None]
        dist.broadcast_object_list(obj, src=0, group=self._objects_group())
        return obj[0]

    def gather(self, obj) -> list | None:
        """Every rank's ``obj``, in rank order, on global rank 0 (None elsewhere)."""
        if self.store is None or self.world_size == 1:
            return [obj]
        out = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object(obj, out, dst=0, group=self._objects_group())
        return out

    def _objects_group(self):
        # Python objects travel over gloo: no GPU memory, and NCCL's object collectives need a device set.
        if self._group is None:
            self._group = dist.group.WORLD if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
        return self._group


def shutdown(coordinator: Coordinator | None = None) -> None:
    """Wait for every rank, then tear the process group down.

    Without it a rank that finishes first can exit while gloo's threads still talk to the others, and die
    with SIGABRT ("terminate called without an active exception") after a run that succeeded.
    """
    if initialized():
        if coordinator is not None:
            coordinator.wait_for_all("shutdown")
        dist.barrier()
        dist.destroy_process_group()


class GlobalProgress(L.Callback):
    """One progress bar on rank 0 for the samples of all ranks.

    Ranks add their finished samples to a counter in the store (no collective, so ranks with more or fewer batches
    never wait on each other); rank 0 reads it after each of its batches and, once its own shard is done, until
    the whole job is, stopping early if another rank reports a failure.
    """

    def __init__(self, coordinator: Coordinator, poll_seconds: float = 0.5):
        self.coordinator = coordinator
        self.poll_seconds = poll_seconds
        self.total = 0
        self.bar = None

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.coordinator.start()
        self.total = len(trainer.datamodule.dataset)
        if trainer.is_global_zero:
            self.bar = tqdm(total=self.total, desc="judging", unit="sample", dynamic_ncols=True)

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        done = self.coordinator.add("done", len(outputs))
        if self.bar is not None:
            self.bar.update(done - self.bar.n if self.coordinator.store is not None else len(outputs))

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is None:
            return
        while self.coordinator.store is not None and (done := self.coordinator.add("done", 0)) < self.total:
            self.coordinator.check()
            self.bar.update(done - self.bar.n)
            time.sleep(self.poll_seconds)
        self.bar.update(self.total - self.bar.n)
        self.close()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
