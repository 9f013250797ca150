"""Resume: every rank appends its finished rows to ``out_dir/shards/rank-<k>.jsonl`` after each batch, and a later
run with the same ``out_dir`` reuses a row only when its id, its input digest (the bytes of both images and every
field that reaches the prompt) and the run's fingerprint all match, whatever the world size was.

The fingerprint covers every setting that changes a score: the checkpoint (for a local folder, its files' bytes; see
``evaluator.runtime.hashing``) and revision, a LoRA adapter's files, dtype and attention, the resolved scheme (the
prompt texts themselves, also those read from files, not their paths), the generation settings, the image limits and
the seed. Batch size and world size do not count. The shards of all ranks are read by global rank 0, so resuming
needs ``out_dir`` on a filesystem every node sees; without one, rank 0 resumes from its own shards only and the
others' are scored again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import stat
from pathlib import Path

from lightning.pytorch.callbacks import BasePredictionWriter

from evaluator.config.checks import api_servers
from evaluator.judge.adapters import adapter_digest
from evaluator.results.writing import jsonl_line
from evaluator.runtime.errors import OutputError
from evaluator.runtime.hashing import checkpoint_digest

log = logging.getLogger(__name__)

SHARDS = "shards"
_MODEL_KEYS = ("name_or_path", "revision", "dtype", "attn_implementation", "max_new_tokens", "experts_implementation")
_IMAGE_KEYS = ("resize_edited", "exif_transpose", "max_image_pixels", "min_image_side", "max_pixels")


def score_fingerprint(cfg, scheme, engine: str | None = None) -> str:
    """A short hash of every setting that changes a score; ``scheme`` is the resolved ``schemes.Scheme``, ``engine``
    the serving engine of a local checkpoint other than transformers (``backend=vllm``: ``"vllm 0.32.0"``), whose
    scores are never mixed with transformers' (nor another version's)."""
    # Which judge answered: the local checkpoint, or the server's model (the key and the limits change nothing).
    api = cfg.get("backend", "local") == "api"
    if api:
        judge = {k: cfg.api[k] for k in ("model", "max_tokens", "image_format")}
        servers = sorted(api_servers(cfg.api))  # several servers of one model: their set, in any order
        judge["base_url"] = servers[0] if len(servers) == 1 else servers
    else:  # a checkpoint saved again into the same folder is another judge
        judge = {**{k: cfg.model[k] for k in _MODEL_KEYS}, "files": checkpoint_digest(cfg.model.name_or_path)}
        if cfg.model.get("adapter"):  # only then: the fingerprints of runs without one stay as they were
            judge["adapter"] = {"name": cfg.model.adapter, "revision": cfg.model.adapter_revision,
                                "files": adapter_digest(cfg.model)}  # fmt: skip
    settings = dataclasses.asdict(scheme)
    if scheme.samples == 1:  # one reply, greedy: the fingerprints of runs from before self-ensembles stay as they were
        del settings["samples"], settings["temperature"], settings["top_p"], settings["top_k"]
    else:  # the criteria became the mean of each reply's (not the criteria of the key means): not those rows
        settings["ensemble"] = "criteria-per-reply"
    if settings["reported_high"] is None:  # likewise for every scheme reported on the range it asks
        del settings["reported_high"]
    for j in settings["judgements"]:  # likewise for a judgement of one prompt (no per-item variants)
        if not j["variants"]:
            del j["variants"]
    images = {k: cfg.data[k] for k in _IMAGE_KEYS}
    if cfg.data.get("max_side"):  # likewise for images not shrunk to a long side
        images["max_side"] = cfg.data.max_side
    relevant = {"model": judge, "scheme": settings, "images": images, "seed": cfg.seed}
    if engine:  # only then: the fingerprints of transformers' runs stay as they were
        relevant["engine"] = engine
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_previous(out_dir: Path, fp: str) -> dict[str, dict]:
    """Rows already scored under ``fp`` in ``out_dir``'s shards, by id (the last one wins), each with its digest.

    Lines that do not parse (a run killed mid-write) or do not have a row's shape are skipped with a warning; rows
    of another fingerprint are ignored.
    """
    rows: dict[str, dict] = {}
    other = 0
    for shard in sorted((out_dir / SHARDS).glob("rank-*.jsonl")):
        if not _regular(shard):  # a link to /dev/zero or a FIFO would be read for ever
            log.warning("ignoring %s: not a regular file", shard)
            continue
        with shard.open(encoding="utf-8", errors="replace", newline="\n") as f:
            for n, line in enumerate(f, start=1):
                row = _row(line)
                if row is None:
                    log.warning("ignoring unreadable line %d of %s (a run stopped mid-write?)", n, shard)
                elif row["fingerprint"] == fp:
                    rows[row["id"]] = {k: v for k, v in row.items() if k != "fingerprint"}
                else:
                    other += 1
    if other:
        log.info("ignoring %d earlier rows scored with other settings", other)
    return rows


def _row(line: str) -> dict | None:
    """A shard line as a row, or None if it is not one (torn, or valid JSON of another shape)."""
    try:
        row = json.loads(line)
    except ValueError:
        return None
    if not isinstance(row, dict):
        return None
    strings = all(isinstance(row.get(k), str) for k in ("id", "fingerprint", "digest"))
    score = row.get("score")
    # A non-finite score (written by an older version) is no result: the row is scored again.
    number = score is None or (isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score))
    error = row.get("error") is None or isinstance(row.get("error"), str)
    return row if strings and number and error else None


def clear(out_dir: Path) -> None:
    """Forget earlier shards (``resume=false``)."""
    shutil.rmtree(out_dir / SHARDS, ignore_errors=True)


class ShardWriter(BasePredictionWriter):
    """Appends each batch's rows to this rank's shard, flushed and fsynced, so a crash loses at most the batches
    in flight."""

    def __init__(self, out_dir: Path, fp: str, digests: dict[str, str]):
        super().__init__(write_interval="batch")
        self.out_dir = out_dir
        self.fp = fp
        self.digests = digests  # each sample's input digest, by id: what the row was scored from
        self.file = None

    def on_predict_start(self, trainer, pl_module) -> None:
        self.open(trainer.global_rank)

    def open(self, rank: int) -> None:
        """Open this rank's shard for appending (also for a judge that runs outside Lightning)."""
        folder = self.out_dir / SHARDS
        path = folder / f"rank-{rank}.jsonl"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.file = path.open("a", encoding="utf-8")
            if path.stat().st_size and not _ends_with_newline(path):
                self.file.write("\n")  # after a write torn by a kill, start a fresh line rather than extend it
        except OSError as e:
            raise OutputError(f"cannot write {path}: {e.strerror or e}") from None

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
        self.write(prediction)

    def write(self, rows: list[dict]) -> None:
        """Append finished rows, flushed and fsynced."""
        lines = [{**_finite(r), "digest": self.digests[r["id"]], "fingerprint": self.fp} for r in rows]
        try:
            self.file.write("".join(jsonl_line(r) for r in lines))
            self.file.flush()
            os.fsync(self.file.fileno())
        except OSError as e:
            raise OutputError(f"cannot write {self.file.name}: {e.strerror or e}") from None

    def on_predict_end(self, trainer, pl_module) -> None:
        self.close()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self.close()

    def close(self) -> None:
        """Close the shard. Every row reported written was flushed and fsynced; what a failed write left in the
        buffer (a full disk) was reported then, so flushing it again on close is not a second error."""
        if self.file is not None:
            file, self.file = self.file, None
            with contextlib.suppress(OSError):
                file.close()


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _finite(row: dict) -> dict:
    """The row with every non-finite number as None: JSON has no NaN, and a cached NaN would be resumed for ever."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
