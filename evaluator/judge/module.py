"""The judge as a LightningModule: one full model per rank, scoring its shard in ``predict_step``."""

from __future__ import annotations

import logging
import statistics
import time
import zlib

import lightning as L
import torch

from evaluator.judge.loading import load_model
from evaluator.judge.logits import label_distributions, score_distributions
from evaluator.judge.qwen_vl import digit_token_ids, label_token_ids
from evaluator.judge.sampling import SeededSampling
from evaluator.runtime.logs import escape
from evaluator.runtime.oom import halving_on_oom
from evaluator.scoring.parsing import UNPARSEABLE
from evaluator.scoring.rows import (
    add_distribution,
    add_reply,
    add_samples,
    new_parts,
    parse_reply,
    reply_seed,
    result_row,
)
from evaluator.scoring.schemes import Scheme

log = logging.getLogger(__name__)


class JudgeModule(L.LightningModule):
    """Scores batches of (source, edited, instruction) with a Qwen3-VL judge under a judging scheme.

    The weights are loaded in ``configure_model`` by every rank itself, directly onto its own device, so no
    rank waits for a broadcast from rank 0 and no rank ever holds more than one copy.
    """

    def __init__(self, model_cfg, scheme: Scheme, processor, seed: int = 0, model=None, replica=(1, 0.9)):
        super().__init__()
        self.replica = replica  # (trainer.gpus_per_replica, trainer.max_memory_fraction)
        self.model_cfg = model_cfg
        self.scheme = scheme
        self.processor = processor
        self.seed = seed
        self.model = model  # None: configure_model loads it, on each rank's own device
        self._keys = {j.name: j.keys for j in scheme.judgements}

    def configure_model(self) -> None:
        if self.model is None:
            self.model = load_model(self.model_cfg, self.trainer.strategy.root_device, *self.replica)

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict]:
        start = time.perf_counter()
        per_sample = self._score_splitting_on_oom(batch)
        seconds = round((time.perf_counter() - start) / len(batch["id"]), 4)
        rows = [
            {"id": sample_id, **result_row(self.scheme, parts, item), "rank": self.global_rank, "seconds": seconds}
            for sample_id, parts, item in zip(batch["id"], per_sample, batch["items"], strict=True)
        ]
        if log.isEnabledFor(logging.DEBUG):
            for r in rows:
                reply = r.get("response") or next((v for k, v in r.items() if k.startswith("response.")), "")
                log.debug("%s score=%s %s", escape(r["id"]), _fmt(r["score"]), escape(reply[:60]))
            scores = [r["score"] for r in rows if r["score"] is not None]
            mean = statistics.fmean(scores) if scores else None
            log.debug("batch %d: %d samples, mean %s, %.2fs/sample", batch_idx, len(rows), _fmt(mean), seconds)
        return rows

    def _score_splitting_on_oom(self, batch: dict) -> list[dict]:
        """Score a batch; if it runs out of device memory, score its halves, down to single samples, and only
        then give the sample an "out of memory" error."""
        return halving_on_oom(
            self._score,
            batch,
            ids=lambda b: b["id"],
            split=split_batch,
            alone=lambda b: {**new_parts(), "errors": dict.fromkeys(self._keys, "out of memory")},
        )

    @torch.inference_mode()
    def largest_batch(self, items: list[dict], collate) -> int:
        """``data.batch_size=auto``: the largest batch of ``items`` (this rank's heaviest samples) that fits.

        Starts from all of them and halves on out-of-memory. On a CPU there is no memory limit to find, so it
        takes ``CPU_AUTO_BATCH``.
        """
        if self.device.type != "cuda":
            return min(len(items), CPU_AUTO_BATCH)
        size = largest_fitting(
            lambda n: self._score(self.transfer_batch_to_device(collate(items[:n]), self.device, 0)), len(items)
        )
        log.info("data.batch_size=auto: %d", size)
        return size

    @property
    def _score(self):
        return self._score_logits if self.scheme.mode == "logits" else self._score_generate

    # Each scorer returns, per sample, {"scores": {key: value}, "errors": {judgement: error},
    # "responses": {judgement: text}, "extra": {column: value}}.

    def _score_generate(self, batch: dict) -> list[dict]:
        if self.scheme.samples > 1:
            return self._score_samples(batch)
        inputs, rows = batch["inputs"], batch["rows"]
        replies = self._generate(inputs)
        parsed = [self._parse(reply, judgement) for reply, (_, judgement, _) in zip(replies, rows, strict=True)]
        for attempt in range(1, self.scheme.retries + 1):
            failed = [i for i, p in enumerate(parsed) if any(x.error == UNPARSEABLE for x in p.values())]
            if not failed:
                break
            # Seeded from the samples' ids, so a retry gives the same reply whatever the world size.
            torch.manual_seed(zlib.crc32(f"{self.seed}:{attempt}:{[batch['id'][rows[i][0]] for i in failed]}".encode()))
            sub = select_rows(inputs, failed, batch["images_per_row"])
            again = self._generate(sub, do_sample=True, temperature=self.scheme.retry_temperature)
            for i, reply in zip(failed, again, strict=True):
                p = self._parse(reply, rows[i][1])
                if not any(x.error == UNPARSEABLE for x in p.values()):
                    replies[i], parsed[i] = reply, p
        out = [new_parts() for _ in batch["id"]]
        for reply, p, (pos, judgement, _) in zip(replies, parsed, rows, strict=True):
            add_reply(out[pos], judgement, reply, p)
        return out

    def _score_samples(self, batch: dict) -> list[dict]:
        """A self-ensemble: ``scheme.samples`` replies per judgement, each row sampled from its own seed."""
        inputs, rows = batch["inputs"], batch["rows"]
        replies: list[list[str]] = [[] for _ in rows]
        for k in range(self.scheme.samples):
            seeds = [reply_seed(self.seed, k, batch["id"][pos], j) for pos, j, _ in rows]
            draw = SeededSampling(seeds, self.scheme.temperature, inputs["input_ids"].shape[1], self.scheme.top_p,
                                  self.scheme.top_k)  # fmt: skip
            drawn = self._generate(inputs, do_sample=False, logits_processor=[draw])
            for mine, reply in zip(replies, drawn, strict=True):
                mine.append(reply)
        out = [new_parts() for _ in batch["id"]]
        for mine, (pos, judgement, _) in zip(replies, rows, strict=True):
            add_samples(out[pos], judgement, mine, [self._parse(r, judgement) for r in mine])
        return out

    def _parse(self, reply: str, judgement: str) -> dict:
        return parse_reply(self.scheme, reply, self._keys[judgement])

    def _generate(self, inputs: dict, **sampling) -> list[str]:
        prompt_len = inputs["input_ids"].shape[1]
        sampling = sampling or {"do_sample": False}
        limit = self.scheme.max_new_tokens or self.model_cfg.max_new_tokens
        output = self.model.generate(**inputs, max_new_tokens=int(limit), **sampling)
        return [r.strip() for r in self.processor.batch_decode(output[:, prompt_len:], skip_special_tokens=True)]

    def _score_logits(self, batch: dict) -> list[dict]:
        if self.scheme.labels:
            words = label_token_ids(self.processor.tokenizer, self.scheme.labels)
            dists = label_distributions(self.model, batch["inputs"], words, list(self.scheme.labels.values()))
        else:
            digits = digit_token_ids(self.processor.tokenizer)
            dists = score_distributions(self.model, batch["inputs"], digits, self.scheme.low, self.scheme.high)
        out = [new_parts() for _ in batch["id"]]
        for d, (pos, _, key) in zip(dists, batch["rows"], strict=True):
            add_distribution(out[pos], key, d)
        return out


CPU_AUTO_BATCH = 4


def largest_fitting(attempt, start: int) -> int:
    """The first of ``start, start // 2, ...`` for which ``attempt(n)`` does not run out of memory; 1 if none does
    (a single sample is then left to the out-of-memory handling of ``predict_step``).

    accelerate's search does the retrying and recognises every kind of out-of-memory error; it is told to halve
    rather than take 10% off, since every attempt costs a full batch of the heaviest samples.
    """
    from accelerate.utils import find_executable_batch_size

    size = start

    def halve() -> int:
        nonlocal size
        size = max(size // 2, 1)
        return size

    def run(n: int) -> int:
        if n > 1:
            attempt(n)
        return n

    return find_executable_batch_size(run, starting_batch_size=start, reduce_batch_size_fn=halve)()


def split_batch(batch: dict, positions: range) -> dict:
    """The part of a collated batch that holds the samples at ``positions``."""
    rows = [i for i, (pos, _, _) in enumerate(batch["rows"]) if pos in positions]
    return {
        "inputs": select_rows(batch["inputs"], rows, batch["images_per_row"]),
        "rows": [(pos - positions.start, j, key) for pos, j, key in (batch["rows"][i] for i in rows)],
        "images_per_row": [batch["images_per_row"][i] for i in rows],
        "id": batch["id"][positions.start : positions.stop],
        "items": batch["items"][positions.start : positions.stop],
    }


def select_rows(inputs: dict, rows: list[int], images_per_row: list[int]) -> dict:
    """The model inputs of some rows of a batch, with their images' patches (to re-ask only failed rows)."""
    grid = inputs["image_grid_thw"]
    patch_ends = grid.prod(-1).cumsum(0).tolist()
    image_ends = torch.tensor(images_per_row).cumsum(0).tolist()
    images = [k for r in rows for k in range(image_ends[r] - images_per_row[r], image_ends[r])]
    patches = [range(patch_ends[k - 1] if k else 0, patch_ends[k]) for k in images]
    index = torch.tensor(rows, device=inputs["input_ids"].device)
    sub = {k: v[index] for k, v in inputs.items() if k not in ("pixel_values", "image_grid_thw")}
    sub["image_grid_thw"] = grid[images]
    sub["pixel_values"] = torch.cat([inputs["pixel_values"][p.start : p.stop] for p in patches])
    return sub


def _fmt(score: float | None) -> str:
    return "-" if score is None else f"{score:.2f}"
