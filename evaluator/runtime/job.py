"""What every stage of a job (judging, editing) does around its own work: logging and the output folder, the
processes and their process group, and on each rank the coordinator, the folder's lock, failures and stops.

``evaluator.judge.stage`` (judging), ``evaluator.edit.stage`` (editing) and ``evaluator.edit.then_judge`` (both in
one job) are each a body inside these.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import lightning as L
from hydra.utils import instantiate

from evaluator.config import checks
from evaluator.results import run_folder
from evaluator.runtime import logs, stopping
from evaluator.runtime.coordination import Coordinator, initialized
from evaluator.runtime.errors import ConfigError, first_line
from evaluator.runtime.strategy import make_trainer, start_processes
from evaluator.runtime.topology import env_rank, launched


def prepare(cfg, out_dir: Path, log_name: str = "rank", key: str = "out_dir") -> None:
    """Logging to the console and to ``out_dir/logs/<log_name>-<rank>.log``, the folder (the setting ``key``)
    checked writable, the libraries quiet and the seed set."""
    logs.setup(cfg.log_level, rank=env_rank())
    checks.check_out_dir(out_dir, key)
    logs.add_file(out_dir / "logs" / f"{log_name}-{env_rank()}.log")
    logs.quiet_libraries()
    L.seed_everything(cfg.seed, verbose=False)


def launch(cfg, body: Callable[[L.Trainer], Coordinator]) -> None:
    """Start the job's processes on ``cfg.trainer``'s devices (unless a launcher did), call ``body(trainer)`` on
    every rank, and tear the process group down if this call set it up. Signals stop every rank (``stopping``)."""
    trainer = make_trainer(cfg.trainer, [_callback(name, c) for name, c in cfg.callbacks.items()])
    owns_process_group = not initialized()
    with stopping.handling():
        coordinator = start_processes(trainer, body, trainer)
    if owns_process_group:
        coordinator.shutdown()


def _callback(name: str, node) -> L.Callback:
    try:
        return instantiate(node)
    except Exception as e:  # Hydra wraps the import or constructor error; its first line says which
        raise ConfigError(f"callbacks.{name}: {first_line(e)}") from None


@contextlib.contextmanager
def without_lightning() -> Iterator[None]:
    """A stage that runs no Lightning (servers judge: ``backend=api``, ``backend=vllm``) on every process a launcher
    started: their gloo process group, up for the stage, so the ranks plan and gather as Lightning's ranks do. The
    stage's coordinator shuts it down after a run that succeeded; after a failure it is torn down here."""
    if not launched() or initialized():
        yield
        return
    import torch.distributed as dist

    dist.init_process_group("gloo")
    try:
        yield
    finally:
        if initialized():
            dist.destroy_process_group()


@contextlib.contextmanager
def on_rank(
    trainer: L.Trainer | None, out_dir: Path, where: str = "api"
) -> Iterator[tuple[Coordinator, run_folder.Lock]]:
    """One stage on one rank: its log prefix, a coordinator, the output folder's lock (taken by the stage's plan
    on rank 0), and any failure told to the other ranks. ``trainer`` is None for processes without Lightning
    (``backend=api``, ``backend=vllm``; ``where`` names them in the log)."""
    coordinator = Coordinator()
    if trainer is None:
        logs.set_rank(coordinator.rank, coordinator.world_size, where)
    else:
        logs.set_rank(trainer.global_rank, trainer.world_size, trainer.strategy.root_device)
    lock = run_folder.Lock(out_dir)
    if trainer is not None and getattr(trainer.strategy.launcher, "procs", None):  # Lightning's launcher's parent
        coordinator.exit_on_failure()
    try:
        yield coordinator, lock
    except BaseException as e:
        coordinator.fail(e)
        coordinator.stop_watching()
        raise
    finally:
        lock.release()


@contextlib.contextmanager
def callbacks_during(trainer: L.Trainer, callbacks: Sequence[L.Callback]) -> Iterator[None]:
    """``callbacks`` on ``trainer`` for one ``predict``; a later stage on the same trainer does not get them."""
    trainer.callbacks.extend(callbacks)
    try:
        yield
    finally:
        for c in callbacks:
            trainer.callbacks.remove(c)


class StopOnSignal(L.Callback):
    """Keeps the evaluator's handlers during ``predict`` (Lightning installs its own SIGTERM handler, which only
    notes the signal and carries on), and after every batch (once its rows are in the shard) calls ``check``,
    which raises to stop this rank: a signal here, or a stop or failure on another rank."""

    def __init__(self, check):
        self.check = check

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        stopping.install()

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.check()
