"""Train a toy image editor with the judge as its validation metric: 2 epochs, 2 DDP processes, on CPU.

    python examples/train_with_judge.py [--out outputs/train_with_judge] [--devices 2] [--epochs 2]
        [--judge-url http://localhost:8000/v1 --judge-model NAME]

The editor is a 1x1 convolution that tints a picture towards the colour its instruction names. Each validation
epoch, ``JudgeValidation`` scores its edits with the tiny random judge in logit mode and logs ``val/judge_score``
(to ``<out>/metrics.csv``). The validation set has 7 pictures, so the padded distributed sampler repeats one; the
callback scores it once. At the end rank 0 saves the editor to ``<out>/editor.pt``. With ``--judge-url`` the judge is
a server's model instead (``backend=api``, no key): each rank asks it through a client of its own.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, Dataset

from evaluator import JudgeValidation

INSTRUCTIONS = ["Make it red.", "Make it green.", "Make it blue."]
JUDGE = {"model": "tiny", "judge": "score10", "overrides": ["judge.mode=logits"]}


class ColourPairs(Dataset):
    """Blocky random pictures; the target tints each towards the colour of its instruction."""

    def __init__(self, n: int, seed: int, prefix: str):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(n, 3, 8, 8, generator=g).repeat_interleave(4, -1).repeat_interleave(4, -2)
        self.kinds = torch.randint(0, 3, (n,), generator=g)
        self.prefix = prefix

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        kind = int(self.kinds[i])
        target = self.images[i] * 0.5
        target[kind] += 0.5
        return {"ids": f"{self.prefix}-{i}", "sources": self.images[i], "targets": target, "kinds": kind,
                "instructions": INSTRUCTIONS[kind]}  # fmt: skip


class ColourEditor(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Conv2d(6, 3, kernel_size=1)

    def forward(self, images: torch.Tensor, kinds: torch.Tensor) -> torch.Tensor:
        onehot = F.one_hot(kinds, 3).float()[:, :, None, None].expand(-1, -1, *images.shape[-2:])
        return torch.sigmoid(self.net(torch.cat([images, onehot], dim=1)))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = F.mse_loss(self(batch["sources"], batch["kinds"]), batch["targets"])
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> dict:
        # What JudgeValidation reads: ids, sources, edits, instructions.
        edits = self(batch["sources"], batch["kinds"])
        return {"ids": batch["ids"], "sources": batch["sources"], "edits": edits, "instructions": batch["instructions"]}

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.05)


def validation_set() -> ColourPairs:
    return ColourPairs(7, seed=1, prefix="val")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/train_with_judge"), help="(ignored by git)")
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--judge-url", help="an OpenAI-compatible server to judge instead of the tiny local judge")
    parser.add_argument("--judge-model", default="judge", help="the server's model name (with --judge-url)")
    args = parser.parse_args()
    judge = JUDGE
    if args.judge_url:
        api = ["backend=api", f"api.base_url={args.judge_url}", f"api.model={args.judge_model}", "api.key_env=null"]
        judge = {"judge": "score10", "overrides": api}
    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=args.devices,
        strategy="ddp" if args.devices > 1 else "auto",
        max_epochs=args.epochs,
        logger=CSVLogger(args.out, name="", version=""),
        callbacks=[JudgeValidation(judge)],
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
    )
    model = ColourEditor()
    trainer.fit(
        model,
        DataLoader(ColourPairs(32, seed=0, prefix="train"), batch_size=8, shuffle=True),
        DataLoader(validation_set(), batch_size=2),
    )
    if trainer.is_global_zero:
        torch.save(model.state_dict(), args.out / "editor.pt")
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # Every rank waits for the others, then the group goes: a rank that exits while gloo's threads still talk to
        # the others can die with SIGABRT ("terminate called without an active exception") after a run that worked.
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
