"""``JudgeValidation``: the judge as a validation metric in a Lightning training loop (DDP included).

The model's ``validation_step`` returns (or the batch holds) a dict with ``ids``, ``sources``, ``edits`` and
``instructions``; at the end of the validation epoch the callback scores them on each rank, drops the repeats that
a padded ``DistributedSampler`` adds (by id, across ranks), reduces sums and counts over ranks (not a mean of
means) and logs ``val/judge_score`` and every criterion through the trainer's loggers.
"""

from __future__ import annotations

from collections.abc import Mapping

import lightning as L
import torch
import torch.distributed as dist
from PIL import Image

from evaluator.judge.python_api import Judge, to_pil

KEYS = ("ids", "sources", "edits", "instructions")


class JudgeValidation(L.Callback):
    """Score the validation edits with a judge and log the mean of each criterion.

    Args:
        judge_cfg: keyword arguments of ``Judge.from_config`` (e.g. ``{"model": "tiny", "judge": "viescore"}``) or a
            composed config; the judge is loaded once per rank, on that rank's device, at the first use.
        every_n_epochs: judge every n-th validation epoch.
        max_samples: judge at most this many unique samples (the first by id order over all ranks).
        log_examples: how many (source, edit) pairs rank 0 logs as images, where the logger takes images.
        prefix: metric name prefix.
    """

    def __init__(
        self,
        judge_cfg: Mapping | None = None,
        every_n_epochs: int = 1,
        max_samples: int | None = None,
        log_examples: int = 4,
        prefix: str = "val/judge_",
    ):
        self.judge_cfg = judge_cfg or {}
        self.every_n_epochs = every_n_epochs
        self.max_samples = max_samples
        self.log_examples = log_examples
        self.prefix = prefix
        self.judge: Judge | None = None
        self._inputs: list[tuple] = []

    def _active(self, trainer: L.Trainer) -> bool:
        return not trainer.sanity_checking and trainer.current_epoch % self.every_n_epochs == 0

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._inputs = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        found = outputs if isinstance(outputs, Mapping) and all(k in outputs for k in KEYS) else None
        if found is None and isinstance(batch, Mapping) and all(k in batch for k in KEYS):
            found = batch
        if found is None or not self._active(trainer):
            return
        for sample_id, src, edit, text in zip(*(found[k] for k in KEYS), strict=True):
            # Detached copies on the CPU: the judge runs once per epoch, not per batch.
            sample_id = sample_id.item() if isinstance(sample_id, torch.Tensor) else sample_id
            self._inputs.append((str(sample_id), _cpu(src), _cpu(edit), str(text)))

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._active(trainer):
            return
        mine = self._unique_share(trainer)
        if self.judge is None:
            cfg = self.judge_cfg
            self.judge = (
                Judge(cfg, device=pl_module.device)
                if not isinstance(cfg, Mapping)
                else Judge.from_config(**cfg, device=pl_module.device)
            )
        results = (
            self.judge.score([x[1] for x in mine], [x[2] for x in mine], [x[3] for x in mine], ids=[x[0] for x in mine])
            if mine
            else []
        )
        criteria = ["score", *[c for c in self.judge.criteria if c != "score"]]
        sums = torch.tensor(
            [
                [sum(r[c] for r in results if r.get(c) is not None), sum(r.get(c) is not None for r in results)]
                for c in criteria
            ],
            dtype=torch.float64,
            device=pl_module.device,
        )
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(sums)  # sums and counts of every rank: the mean over all unique samples
        # Every rank now holds the same values; sync_dist averages equal numbers, so they stay exact.
        for c, (total, count) in zip(criteria, sums.tolist(), strict=True):
            if count:
                pl_module.log(f"{self.prefix}{c}", total / count, sync_dist=True)
        pl_module.log(f"{self.prefix}count", sums[0, 1].item(), sync_dist=True)
        if trainer.is_global_zero:
            self._log_images(trainer, mine, results)

    def _unique_share(self, trainer: L.Trainer) -> list[tuple]:
        """This rank's samples once each over all ranks: the first occurrence (by rank, then position) wins."""
        ids = [x[0] for x in self._inputs]
        everyone = [ids]
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            everyone = [None] * dist.get_world_size()
            dist.all_gather_object(everyone, ids)
        seen: set[str] = set()
        keep: list[int] = []
        for rank, rank_ids in enumerate(everyone):
            for pos, sample_id in enumerate(rank_ids):
                if sample_id in seen:
                    continue
                seen.add(sample_id)
                if rank == trainer.global_rank:
                    keep.append(pos)
        if self.max_samples is not None:
            allowed = set(sorted(seen)[: self.max_samples])
            keep = [pos for pos in keep if ids[pos] in allowed]
        return [self._inputs[pos] for pos in keep]

    def _log_images(self, trainer: L.Trainer, mine: list[tuple], results: list[dict]) -> None:
        for logger in trainer.loggers:
            experiment = getattr(logger, "experiment", None)
            for (sample_id, src, edit, text), r in list(zip(mine, results, strict=True))[: self.log_examples]:
                pair = _side_by_side(to_pil(src), to_pil(edit))
                caption = f"{sample_id}: {text} -> {r['score']}"
                if hasattr(logger, "log_image"):
                    logger.log_image(key=f"{self.prefix}examples", images=[pair], caption=[caption])
                elif hasattr(experiment, "add_image"):
                    from torchvision.transforms.functional import pil_to_tensor

                    experiment.add_image(f"{self.prefix}examples/{sample_id}", pil_to_tensor(pair), trainer.global_step)


def _cpu(x):
    return x.detach().cpu() if isinstance(x, torch.Tensor) else x


def _side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    out = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    out.paste(left, (0, 0))
    out.paste(right, (left.width, 0))
    return out
