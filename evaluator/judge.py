"""The judge as a LightningModule: one full model per rank, scoring its shard in ``predict_step``."""

from __future__ import annotations

import logging
import statistics
import time

import lightning as L

from evaluator.loading import load_model
from evaluator.parsing import parse_score

log = logging.getLogger(__name__)


class JudgeModule(L.LightningModule):
    """Scores batches of (source, edited, instruction) with a Qwen3-VL judge by greedy generation.

    The weights are loaded in ``configure_model`` by every rank itself, directly onto its own device, so no
    rank waits for a broadcast from rank 0 and no rank ever holds more than one copy.
    """

    def __init__(self, model_cfg, judge_cfg, processor):
        super().__init__()
        self.model_cfg = model_cfg
        self.judge_cfg = judge_cfg
        self.processor = processor
        self.model = None

    def configure_model(self) -> None:
        if self.model is None:
            self.model = load_model(self.model_cfg, self.trainer.strategy.root_device)

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict]:
        start = time.perf_counter()
        inputs = batch["inputs"]
        prompt_len = inputs["input_ids"].shape[1]
        output = self.model.generate(**inputs, max_new_tokens=int(self.model_cfg.max_new_tokens), do_sample=False)
        replies = self.processor.batch_decode(output[:, prompt_len:], skip_special_tokens=True)
        seconds = (time.perf_counter() - start) / len(replies)
        scale = self.judge_cfg.scale
        rows = []
        for index, sample_id, reply in zip(batch["index"], batch["id"], replies, strict=True):
            reply = reply.strip()
            parsed = parse_score(reply, scale.min, scale.max)
            rows.append(
                {
                    "index": index,
                    "id": sample_id,
                    "score": parsed.score,
                    "response": reply,
                    "error": parsed.error,
                    "rank": self.global_rank,
                    "seconds": round(seconds, 4),
                }
            )
            log.info("%s score=%s %r", sample_id, _fmt(parsed.score), reply[:60])
        scores = [r["score"] for r in rows if r["score"] is not None]
        log.info(
            "batch %d: %d samples, mean %s, %.2fs/sample",
            batch_idx,
            len(rows),
            _fmt(statistics.fmean(scores) if scores else None),
            seconds,
        )
        return rows


def _fmt(score: float | None) -> str:
    return "-" if score is None else f"{score:.2f}"
