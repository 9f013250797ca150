"""Resume: every rank appends its finished rows to ``out_dir/shards/rank-<k>.jsonl`` after each batch, and a later
run with the same ``out_dir`` skips the ids already scored under the same fingerprint, whatever the world size was.

A row's fingerprint covers everything that changes its score: the checkpoint and revision, dtype and attention,
the scheme with its prompt texts and mode, the generation settings and the image limits. Batch size and world size
do not count. The shards of all ranks are read by global rank 0, so resuming needs ``out_dir`` on a filesystem every
node sees; without one, rank 0 resumes from its own shards only and the others' are scored again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from lightning.pytorch.callbacks import BasePredictionWriter
from omegaconf import OmegaConf

log = logging.getLogger(__name__)

SHARDS = "shards"


def fingerprint(cfg) -> str:
    """A short hash of every setting that changes a score."""
    model = cfg.model
    relevant = {
        "model": {k: model[k] for k in ("name_or_path", "revision", "dtype", "attn_implementation", "max_new_tokens")},
        "judge": OmegaConf.to_container(cfg.judge, resolve=True),
        "images": {k: cfg.data[k] for k in ("resize_edited", "max_image_pixels", "min_image_side", "max_pixels")},
        "seed": cfg.seed,
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_previous(out_dir: Path, fp: str) -> dict[str, dict]:
    """Rows already scored under ``fp`` in ``out_dir``'s shards, by id (the last one wins).

    Lines that do not parse (a run killed mid-write) are skipped with a warning; rows of another fingerprint
    are ignored.
    """
    rows: dict[str, dict] = {}
    other = 0
    for shard in sorted((out_dir / SHARDS).glob("rank-*.jsonl")):
        with shard.open(encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, start=1):
                try:
                    row = json.loads(line)
                    row_id, row_fp = row["id"], row["fingerprint"]
                except (ValueError, KeyError, TypeError):
                    log.warning("ignoring unreadable line %d of %s (a run stopped mid-write?)", n, shard)
                    continue
                if row_fp == fp:
                    rows[row_id] = {k: v for k, v in row.items() if k != "fingerprint"}
                else:
                    other += 1
    if other:
        log.info("ignoring %d earlier rows scored with other settings", other)
    return rows


def clear(out_dir: Path) -> None:
    """Forget earlier shards (``resume=false``)."""
    shutil.rmtree(out_dir / SHARDS, ignore_errors=True)


class ShardWriter(BasePredictionWriter):
    """Appends each batch's rows to this rank's shard, flushed and fsynced, so a crash loses at most the batches
    in flight."""

    def __init__(self, out_dir: Path, fp: str):
        super().__init__(write_interval="batch")
        self.out_dir = out_dir
        self.fp = fp
        self.file = None

    def on_predict_start(self, trainer, pl_module) -> None:
        folder = self.out_dir / SHARDS
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"rank-{trainer.global_rank}.jsonl"
        self.file = path.open("a", encoding="utf-8")
        if path.stat().st_size and not _ends_with_newline(path):
            self.file.write("\n")  # after a write torn by a kill, start a fresh line rather than extend the torn one

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
        self.file.write(
            "".join(json.dumps({**r, "fingerprint": self.fp}, ensure_ascii=False) + "\n" for r in prediction)
        )
        self.file.flush()
        os.fsync(self.file.fileno())

    def on_predict_end(self, trainer, pl_module) -> None:
        self.close()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self.close()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
