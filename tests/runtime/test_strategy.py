"""The inference strategy: Lightning's DDP without the wrapper and without the weight broadcast."""

import lightning as L
import torch
from lightning.pytorch.strategies import ddp

from evaluator.runtime.coordination import Coordinator
from evaluator.runtime.strategy import InferenceStrategy


class _Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def predict_step(self, batch, batch_idx):
        return self.layer(batch)


def test_predict_never_broadcasts_weights(monkeypatch, restore_environ):
    calls = []
    monkeypatch.setattr(ddp, "_sync_module_states", lambda module: calls.append(module))
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        strategy=InferenceStrategy(),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    try:
        out = trainer.predict(_Tiny(), torch.utils.data.DataLoader(torch.ones(3, 2), batch_size=2))
        assert [o.shape[0] for o in out] == [2, 1]
        assert not isinstance(trainer.strategy.model, torch.nn.parallel.DistributedDataParallel)
    finally:
        Coordinator().shutdown()
    assert calls == []  # stock DDPStrategy calls it once here, sending every weight from rank 0
