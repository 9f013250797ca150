"""The Lightning strategy for scoring: one process per device, and a Trainer built around it."""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.trainer.states import TrainerFn

from evaluator.judge.replicas import check_launch
from evaluator.runtime.topology import topology


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


def make_trainer(trainer_cfg, callbacks: Sequence[L.Callback] = ()) -> L.Trainer:
    """A Trainer that runs ``predict`` on one process per device (per replica with ``trainer.gpus_per_replica``
    above 1: each process's device is then the first GPU of its replica); the judge's own sampler shards the data.
    """
    devices, num_nodes = topology(trainer_cfg)
    k = int(trainer_cfg.get("gpus_per_replica", 1))
    if k > 1:
        import torch

        devices = [gpus[0] for gpus in check_launch(torch.cuda.device_count(), k)]
    return L.Trainer(
        accelerator=trainer_cfg.accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=InferenceStrategy(),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        inference_mode=True,
        callbacks=list(callbacks),
    )


def start_processes(trainer: L.Trainer, function, *args):
    """Start the job's processes (unless a launcher such as torchrun already did), join the process group, and
    call ``function(*args)`` on every rank.

    With Lightning's own launcher (``trainer.devices=N`` without torchrun) this is where the other ranks are
    started: each re-runs the same command and arrives here too. Doing it before ``predict`` lets every rank
    take part in checking the data and planning the run; ``predict`` then finds the processes and the process
    group already there.
    """

    def joined():
        trainer.strategy.setup_environment()
        return function(*args)

    launcher = trainer.strategy.launcher
    return launcher.launch(joined, trainer=trainer) if launcher is not None else joined()
