"""The editor as a LightningModule: one full editing pipeline per rank, editing its shard in ``predict_step``, and
the dataset that serves it each source at the size it will edit at."""

from __future__ import annotations

import gc
import hashlib
import io
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from PIL import Image
from torch.utils.data import Dataset

from evaluator.edit import diffusion
from evaluator.inputs.images import DEFAULT_LIMITS, ImageLimits, load_rgb
from evaluator.inputs.samples import Sample
from evaluator.results.writing import atomic_write
from evaluator.runtime.errors import CallFailed, OutputError, first_line
from evaluator.runtime.oom import halving_on_oom

log = logging.getLogger(__name__)

Size = tuple[int, int]


def output_size(width: int, height: int, resolution: int | None, multiple_of: int) -> Size:
    """The size an edit is made at: about ``resolution`` x ``resolution`` pixels at the source's aspect ratio
    (``None``: the source's own size), each side rounded to a multiple of ``multiple_of``, at least one multiple."""
    scale = 1.0 if resolution is None else resolution / math.sqrt(width * height)
    return tuple(max(multiple_of, round(side * scale / multiple_of) * multiple_of) for side in (width, height))


def sample_seed(seed: int, sample_id: str) -> int:
    """The seed of one sample's noise: from the run's seed and the sample's id alone, so an edit does not depend on
    the world size, the batch size or the order."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()[:8], "big") & (2**63 - 1)


class EditDataset(Dataset):
    """Serves each sample with its source, upright (unless ``upright=False``) and resized to its edit's size."""

    def __init__(
        self,
        samples: Sequence[Sample],
        sizes: Sequence[Size],
        limits: ImageLimits = DEFAULT_LIMITS,
        upright: bool = True,
    ):
        self.samples, self.sizes, self.limits, self.upright = list(samples), list(sizes), limits, upright

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        s, size = self.samples[index], tuple(self.sizes[index])
        image = load_rgb(s.source, self.limits, self.upright)
        if image.size != size:
            image = image.resize(size, Image.Resampling.LANCZOS)
        return {"sample": s, "image": image, "size": size}


def collate_edits(items: list[dict]) -> list[dict]:
    """A batch is the list of its items: the pipeline takes PIL images and texts, not tensors."""
    return items


class EditModule(L.LightningModule):
    """Edits batches of (source, instruction) with a diffusers pipeline and writes each edit to its sample's
    ``edited`` path (a temporary name, then a rename).

    The pipeline is loaded in ``configure_model`` by every rank itself, onto its own device. Each sample's noise
    comes from its own generator, seeded from (seed, id) on the CPU, so an edit is the same whichever rank, batch
    or machine makes it (up to the numerics of the device).
    """

    def __init__(self, editor_cfg, seed: int = 0, pipeline=None):
        super().__init__()
        self.editor_cfg = editor_cfg
        self.seed = seed
        self.pipeline = pipeline  # None: configure_model loads it
        self.keywords: dict = {}
        self.sized = False
        self.load_seconds = 0.0

    def configure_model(self) -> None:
        if self.pipeline is None:
            start = time.perf_counter()
            self.pipeline = diffusion.load_pipeline(self.editor_cfg, self.trainer.strategy.root_device)
            self.load_seconds = time.perf_counter() - start
        cls = type(self.pipeline)
        self.keywords, self.sized = diffusion.call_keywords(cls, self.editor_cfg), diffusion.takes_size(cls)

    def transfer_batch_to_device(self, batch: list[dict], device, dataloader_idx: int) -> list[dict]:
        return batch  # PIL images and texts: the pipeline moves what it makes of them itself

    def predict_step(self, batch: list[dict], batch_idx: int) -> list[dict]:
        return halving_on_oom(
            self._edit,
            batch,
            ids=lambda b: [x["sample"].id for x in b],
            split=lambda b, positions: b[positions.start : positions.stop],
            alone=lambda b: {"id": b[0]["sample"].id, "error": "out of memory", "rank": self.global_rank},
        )

    def _edit(self, batch: list[dict]) -> list[dict]:
        start = time.perf_counter()
        width, height = batch[0]["size"]
        size = {"width": width, "height": height} if self.sized else {}
        try:
            out = self.pipeline(
                prompt=[x["sample"].instruction for x in batch],
                image=[x["image"] for x in batch],
                generator=[torch.Generator("cpu").manual_seed(sample_seed(self.seed, x["sample"].id)) for x in batch],
                output_type="pil",
                **size,
                **self.keywords,
            )
            images = list(out.images)
        except (TypeError, ValueError, AttributeError, KeyError) as e:  # the settings, not the sample: stop, in a line
            raise CallFailed(
                f"the editing pipeline's call failed ({type(e).__name__}: {first_line(e)[:300]}); check editor.call.* "
                "and the other editor settings"
            ) from None
        if len(images) != len(batch):
            raise CallFailed(f"the editing pipeline returned {len(images)} images for {len(batch)} instructions; "
                              "check editor.call.*")  # fmt: skip
        seconds = (time.perf_counter() - start) / len(batch)
        # A pipeline with a safety checker returns a black image for what it flags; that is no edit.
        flagged = getattr(out, "nsfw_content_detected", None) or [False] * len(batch)
        rows = []
        for x, image, blocked in zip(batch, images, flagged, strict=True):
            row = {"id": x["sample"].id, "error": None, "rank": self.global_rank, "seconds": round(seconds, 4)}
            if blocked:
                row["error"] = "blocked by the pipeline's safety checker"
            else:
                saved = time.perf_counter()
                row["sha256"] = save_png(image, Path(x["sample"].edited))
                row["width"], row["height"] = image.size
                row["save_seconds"] = round(time.perf_counter() - saved, 4)
            rows.append(row)
        return rows

    def release(self) -> None:
        """Free the pipeline's memory (the pipeline stage loads the judge next, on the same devices)."""
        self.pipeline = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def save_png(image: Image.Image, path: Path) -> str:
    """Write ``image`` as PNG to ``path`` (through a temporary name and a rename) and return its SHA-256."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    data = buf.getvalue()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()
