import lightning as L
import pytest
import torch
from lightning.pytorch.strategies import ddp

from evaluator import distributed


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
        strategy=distributed.InferenceStrategy(),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    try:
        out = trainer.predict(_Tiny(), torch.utils.data.DataLoader(torch.ones(3, 2), batch_size=2))
        assert [o.shape[0] for o in out] == [2, 1]
        assert not isinstance(trainer.strategy.model, torch.nn.parallel.DistributedDataParallel)
    finally:
        distributed.shutdown()
    assert calls == []  # stock DDPStrategy calls it once here, sending every weight from rank 0


@pytest.mark.parametrize(
    ("env", "devices", "expected"),
    [
        ({}, "auto", ("auto", 1)),
        ({"TORCHELASTIC_RUN_ID": "x", "LOCAL_WORLD_SIZE": "3", "WORLD_SIZE": "6"}, "auto", (3, 2)),
        ({"TORCHELASTIC_RUN_ID": "x", "LOCAL_WORLD_SIZE": "3", "WORLD_SIZE": "3"}, [0, 1, 2], ([0, 1, 2], 1)),
    ],
)
def test_topology_follows_torchrun(monkeypatch, env, devices, expected):
    for key in ("TORCHELASTIC_RUN_ID", "LOCAL_WORLD_SIZE", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cfg = {"devices": devices, "num_nodes": 1}
    assert distributed.topology(type("Cfg", (), cfg)) == expected


def test_env_rank(monkeypatch):
    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    assert distributed.env_rank() == 0
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("NODE_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert distributed.env_rank() == 5
    monkeypatch.setenv("RANK", "3")
    assert distributed.env_rank() == 3
