"""One progress bar on rank 0 for the samples of all ranks."""

from __future__ import annotations

import lightning as L
from tqdm.auto import tqdm

from evaluator.runtime.coordination import Coordinator


class GlobalProgress(L.Callback):
    """Ranks add their finished samples to a counter in the store (no collective, so ranks with more or fewer
    batches never wait on each other); rank 0 shows it after each of its batches and whenever ``refresh`` is
    called (while it waits for the others at the end)."""

    def __init__(self, coordinator: Coordinator, total: int, desc: str = "judging"):
        self.coordinator = coordinator
        self.total = total
        self.desc = desc
        self.bar = None

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self.bar = tqdm(total=self.total, desc=self.desc, unit="sample", dynamic_ncols=True)

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        done = self.coordinator.add("done", len(outputs))
        if self.bar is not None:
            self.bar.update((done if self.coordinator.store is not None else self.bar.n + len(outputs)) - self.bar.n)

    def refresh(self) -> None:
        """Show the samples every rank has finished so far."""
        if self.bar is not None:
            self.bar.update(self.coordinator.add("done", 0) - self.bar.n)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(max(0, min(self.total, self.coordinator.add("done", 0)) - self.bar.n))
            self.bar.close()
            self.bar = None
