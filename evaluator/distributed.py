"""Distributed helpers: the inference strategy, the trainer's topology, gathering rows and global progress."""

from __future__ import annotations

import logging
import os
import time

import lightning as L
import torch.distributed as dist
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.trainer.states import TrainerFn
from tqdm.auto import tqdm

log = logging.getLogger(__name__)


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


def gather_to_rank0(obj) -> list | None:
    """Every rank's ``obj``, in rank order, on global rank 0 (None elsewhere); over gloo, so no GPU memory."""
    if not initialized() or dist.get_world_size() == 1:
        return [obj]
    group = None if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
    out = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0, group=group)
    return out


def shutdown() -> None:
    """Wait for every rank, then tear the process group down.

    Without it a rank that finishes first can exit while gloo's threads still talk to the others, and die
    with SIGABRT ("terminate called without an active exception") after a run that succeeded.
    """
    if initialized():
        dist.barrier()
        dist.destroy_process_group()


class GlobalProgress(L.Callback):
    """One progress bar on rank 0 for the samples of all ranks.

    Ranks add their finished samples to a counter in the process group's key-value store (no collective, so
    ranks with more or fewer batches never wait on each other); rank 0 reads it after each of its batches and,
    once its own shard is done, until the whole job is.
    """

    def __init__(self, total: int, poll_seconds: float = 0.5):
        self.total = total
        self.poll_seconds = poll_seconds
        self.bar = None
        self.store = None
        self.key = ""

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.store = dist.distributed_c10d._get_default_store() if initialized() else None
        if self.store is not None:
            # Each rank bumps the run counter once, so the k-th run in this process group gets its own key.
            run = (self.store.add("evaluator/runs", 1) - 1) // trainer.world_size
            self.key = f"evaluator/done/{run}"
        if trainer.is_global_zero:
            self.bar = tqdm(total=self.total, desc="judging", unit="sample", dynamic_ncols=True)

    def _count(self, n: int) -> int:
        return self.store.add(self.key, n) if self.store is not None else n + (self.bar.n if self.bar else 0)

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        done = self._count(len(outputs))
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is None:
            return
        while self.store is not None and (done := self._count(0)) < self.total:
            self.bar.update(done - self.bar.n)
            time.sleep(self.poll_seconds)
        self.bar.update(self.total - self.bar.n)
        self.bar.close()
        self.bar = None
