"""Samples: reading manifests, checking them before any model loads, and serving them to the DataLoader."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset

from evaluator.sampler import ShardSampler

log = logging.getLogger(__name__)

REQUIRED = ("id", "source", "edited", "instruction")
OPTIONAL = ("category", "language")


@dataclass(frozen=True)
class Sample:
    """One (source, edited, instruction) triple; image paths are absolute, ``row`` counts manifest rows from 1."""

    id: str
    source: str
    edited: str
    instruction: str
    category: str | None = None
    language: str | None = None
    extra: dict = field(default_factory=dict)
    row: int = 0

    def fields(self) -> dict:
        """The input fields as they go into a result row."""
        return {
            "id": self.id,
            "source": self.source,
            "edited": self.edited,
            "instruction": self.instruction,
            "category": self.category,
            "language": self.language,
            **self.extra,
        }


@dataclass(frozen=True)
class Problem:
    """Something wrong with one manifest row (``row`` counts data rows from 1)."""

    row: int
    id: str
    message: str


class DataError(ValueError):
    """The input cannot be scored as given; ``problems`` lists every row at fault."""

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problem(s) in {source}:", "  row  id                    problem"]
        lines += [f"  {p.row:<4} {p.id[:20]:<21} {p.message}" for p in self.problems]
        super().__init__("\n".join(lines))


def read_manifest(path: str | Path) -> tuple[list[Sample], list[Problem]]:
    """Read a JSONL or CSV manifest; relative image paths are taken from the manifest's folder.

    Returns:
        The readable samples, and a problem for every row that is not (unreadable line, missing column).
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        return [], [Problem(0, "-", f"manifest file not found: {path}")]
    records, problems = _read_records(path)
    samples = []
    for row, rec in enumerate(records, start=1):
        if rec is None:
            continue
        missing = [k for k in REQUIRED if not str(rec.get(k) or "").strip()]
        if missing:
            problems.append(Problem(row, str(rec.get("id") or "-"), f"missing {', '.join(missing)}"))
            continue
        extra = {k: v for k, v in rec.items() if k not in REQUIRED + OPTIONAL}
        samples.append(
            Sample(
                id=str(rec["id"]),
                source=str(path.parent / str(rec["source"])),
                edited=str(path.parent / str(rec["edited"])),
                instruction=str(rec["instruction"]),
                category=_opt_str(rec.get("category")),
                language=_opt_str(rec.get("language")),
                extra=extra,
                row=row,
            )
        )
    return samples, problems


def _read_records(path: Path) -> tuple[list[dict | None], list[Problem]]:
    problems: list[Problem] = []
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f)), problems
    records: list[dict | None] = []
    with path.open(encoding="utf-8") as f:
        for row, line in enumerate((ln for ln in f if ln.strip()), start=1):
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not a JSON object")
            except ValueError as e:
                problems.append(Problem(row, "-", f"unreadable line: {e}"))
                rec = None
            records.append(rec)
    return records, problems


def _opt_str(value) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value)


def check_samples(samples: Sequence[Sample], threads: int = 8, edit_missing: Sequence[Sample] = ()) -> list[Problem]:
    """Find every sample that cannot be scored: duplicate ids, missing files, images that do not decode.

    Images are fully decoded (not only their headers), in threads since decoding releases the GIL. Samples in
    ``edit_missing`` are known to lack their edited image (a benchmark's missing output) and get only their
    id and source checked.
    """
    problems = []
    seen: dict[str, int] = {}
    for s in samples:
        if s.id in seen:
            problems.append(Problem(s.row, s.id, f"duplicate id (first at row {seen[s.id]})"))
        seen.setdefault(s.id, s.row)
    no_edit = {id(s) for s in edit_missing}

    def image_problems(s: Sample) -> list[str | None]:
        edited = None if id(s) in no_edit else _image_problem(s.edited, "edited")
        return [_image_problem(s.source, "source"), edited]

    with ThreadPoolExecutor(threads) as pool:
        for s, found in zip(samples, pool.map(image_problems, samples), strict=True):
            problems += [Problem(s.row, s.id, msg) for msg in found if msg]
    return problems


def _image_problem(path: str, role: str) -> str | None:
    p = Path(path)
    if not p.is_file():
        return f"{role} image not found: {path}"
    try:
        with Image.open(p) as im:
            im.load()
    except Exception as e:  # PIL raises many types for bad files; all mean the same here
        return f"{role} image does not decode ({type(e).__name__}: {e}): {path}"
    return None


def load_rgb(path: str) -> Image.Image:
    """Open an image as RGB, upright per its EXIF orientation, with any alpha composited over white."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return im.convert("RGB")


class PairDataset(Dataset):
    """Serves each sample with its decoded source and edited images.

    With ``resize_edited`` the edit is resized to the source's size first, as GEdit-Bench does before judging.
    """

    def __init__(self, samples: Sequence[Sample], resize_edited: bool = False):
        self.samples = list(samples)
        self.resize_edited = resize_edited

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        s = self.samples[index]
        source, edited = load_rgb(s.source), load_rgb(s.edited)
        if self.resize_edited and edited.size != source.size:
            edited = edited.resize(source.size, Image.Resampling.LANCZOS)
        return {"index": index, "sample": s, "source": source, "edited": edited}


class JudgeData(L.LightningDataModule):
    """Shards the samples over the trainer's ranks, each sample to exactly one rank."""

    def __init__(
        self,
        samples: Sequence[Sample],
        collate: Callable,
        batch_size: int,
        num_workers: int,
        resize_edited: bool = False,
    ):
        super().__init__()
        # With fewer samples than ranks some ranks get none; they must still take part, not fail.
        self.allow_zero_length_dataloader_with_multiple_devices = True
        self.dataset = PairDataset(samples, resize_edited)
        self.collate = collate
        self.batch_size = batch_size
        self.num_workers = num_workers

    def predict_dataloader(self) -> DataLoader:
        sampler = ShardSampler(self.dataset, num_replicas=self.trainer.world_size, rank=self.trainer.global_rank)
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=self.collate,
            pin_memory=self.trainer.strategy.root_device.type == "cuda",
            persistent_workers=False,
        )
