"""Faults to inject into a run, as a Lightning callback given on the command line (tests only):

+callbacks.fault._target_=tests.faults.Fault +callbacks.fault.fail_rank=1 +callbacks.fault.delay=0.5
"""

import time
from pathlib import Path

import lightning as L


class Fault(L.Callback):
    """Raise on rank ``fail_rank`` at its batch ``at_batch`` (writing the time to ``stamp`` first, if given); make
    every batch take ``delay`` seconds longer."""

    def __init__(self, fail_rank: int | None = None, at_batch: int = 0, delay: float = 0.0, stamp: str | None = None):
        self.fail_rank, self.at_batch, self.delay, self.stamp = fail_rank, at_batch, delay, stamp

    def on_predict_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        if self.delay:
            time.sleep(self.delay)
        if trainer.global_rank == self.fail_rank and batch_idx == self.at_batch:
            if self.stamp:
                Path(self.stamp).write_text(str(time.time()))
            raise RuntimeError(f"injected failure on rank {self.fail_rank} at batch {batch_idx}")


def fault_args(**keys) -> list[str]:
    """The command-line overrides that add a ``Fault`` with ``keys``."""
    return ["+callbacks.fault._target_=tests.faults.Fault", *(f"+callbacks.fault.{k}={v}" for k, v in keys.items())]
