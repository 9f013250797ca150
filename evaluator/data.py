"""Samples: reading manifests, checking them before any model loads, and serving them to the DataLoader."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from evaluator.images import DEFAULT_LIMITS, ImageLimits, image_problem, load_rgb
from evaluator.sampler import CostModel, ShardSampler
from evaluator.summary import escape

REQUIRED = ("id", "source", "edited", "instruction")
OPTIONAL = ("category", "language")
# data.batch_size=auto tries batches of up to this many samples.
AUTO_BATCH_MAX = 64


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
    """Something wrong with one input row (``row`` counts data rows from 1; 0 is the file itself)."""

    row: int
    id: str
    message: str

    @property
    def reason(self) -> str:
        """The kind of problem without its details, e.g. "source image not found"."""
        return self.message.split(":")[0].split(" (")[0]


class DataError(ValueError):
    """The input cannot be scored as given; ``problems`` lists every row at fault."""

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.problems = list(problems)
        lines = [f"{len(self.problems)} problem(s) in {source}:", "  row  id                    problem"]
        lines += [f"  {p.row:<4} {escape(p.id)[:20]:<21} {escape(p.message)}" for p in self.problems]
        super().__init__("\n".join(lines))


def read_manifest(
    path: str | Path, root: str | Path | None = None, allow_outside_root: bool = False
) -> tuple[list[Sample], list[Problem]]:
    """Read a JSONL or CSV manifest; relative image paths are taken from the manifest's folder.

    Args:
        path: the manifest.
        root: the folder every image must lie in (default: the manifest's folder).
        allow_outside_root: accept images outside ``root`` (``..`` or absolute paths elsewhere).

    Returns:
        The readable samples, and a problem for every row that is not (unreadable line, missing column, text that
        is not UTF-8, a path outside the root).
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        return [], [Problem(0, "-", f"manifest file not found: {path}")]
    root = Path(root).expanduser().resolve() if root else path.parent
    records, problems = _read_records(path)
    samples = []
    for row, rec in enumerate(records, start=1):
        if rec is None:
            continue
        sample_id = str(rec.get("id") or "-")
        missing = [k for k in REQUIRED if not str(rec.get(k) or "").strip()]
        if missing:
            problems.append(Problem(row, sample_id, f"missing {', '.join(missing)}"))
            continue
        bad_text = [k for k, v in rec.items() if isinstance(v, str) and _has_surrogates(v)]
        if bad_text:
            problems.append(Problem(row, _printable(sample_id), f"not valid UTF-8: {', '.join(bad_text)}"))
            continue
        images = {k: (path.parent / str(rec[k])).resolve() for k in ("source", "edited")}
        outside = [k for k, p in images.items() if not allow_outside_root and not p.is_relative_to(root)]
        if outside:
            where = ", ".join(f"{k} {images[k]}" for k in outside)
            problems.append(Problem(row, sample_id, f"path escapes the data root {root}: {where}"))
            continue
        extra = {k: v for k, v in rec.items() if k not in REQUIRED + OPTIONAL}
        samples.append(
            Sample(
                id=sample_id,
                source=str(images["source"]),
                edited=str(images["edited"]),
                instruction=str(rec["instruction"]),
                category=_opt_str(rec.get("category")),
                language=_opt_str(rec.get("language")),
                extra=extra,
                row=row,
            )
        )
    return samples, problems


def _read_records(path: Path) -> tuple[list[dict | None], list[Problem]]:
    # surrogateescape keeps the readable rows of a file with a few bad bytes; those rows are reported.
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    problems: list[Problem] = []
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(io.StringIO(text, newline=""))), problems
    records: list[dict | None] = []
    for row, line in enumerate((ln for ln in text.splitlines() if ln.strip()), start=1):
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            problems.append(Problem(row, "-", f"unreadable line: {_printable(str(e))}"))
            rec = None
        records.append(rec)
    return records, problems


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _printable(text: str) -> str:
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _opt_str(value) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value)


def check_samples(
    samples: Sequence[Sample],
    limits: ImageLimits = DEFAULT_LIMITS,
    edit_missing: Sequence[Sample] = (),
    threads: int = 8,
) -> list[Problem]:
    """Find every sample that cannot be scored: duplicate ids, missing, empty or undecodable images, images
    outside ``limits``.

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
        edited = None if id(s) in no_edit else image_problem(s.edited, "edited", limits)
        return [image_problem(s.source, "source", limits), edited]

    with ThreadPoolExecutor(threads) as pool:
        for s, found in zip(samples, pool.map(image_problems, samples), strict=True):
            problems += [Problem(s.row, s.id, msg) for msg in found if msg]
    return problems


def _worker_context() -> str:
    import multiprocessing

    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _size(path: str) -> tuple[int, int]:
    with Image.open(path) as im:  # reads the header only
        return im.size


class PairDataset(Dataset):
    """Serves each sample with its decoded source and edited images.

    With ``resize_edited`` the edit is resized to the source's size first, as GEdit-Bench does before judging.
    """

    def __init__(self, samples: Sequence[Sample], resize_edited: bool = False, limits: ImageLimits = DEFAULT_LIMITS):
        self.samples = list(samples)
        self.resize_edited = resize_edited
        self.limits = limits

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        s = self.samples[index]
        source, edited = load_rgb(s.source, self.limits), load_rgb(s.edited, self.limits)
        if self.resize_edited and edited.size != source.size:
            edited = edited.resize(source.size, Image.Resampling.LANCZOS)
        return {"index": index, "sample": s, "source": source, "edited": edited}


class JudgeData(L.LightningDataModule):
    """Shards the samples still to score over the trainer's ranks, each sample to exactly one rank.

    ``pending`` runs on every rank once the process group exists and returns the samples left to score (after
    a resume, rank 0 decides and tells the others, so every rank shards the same list).
    """

    def __init__(
        self,
        pending: Callable[[], Sequence[Sample]],
        collate: Callable,
        batch_size: int | str,
        num_workers: int,
        resize_edited: bool = False,
        limits: ImageLimits = DEFAULT_LIMITS,
        cost_model: CostModel | None = None,
        batch_size_for: Callable[[list[dict]], int] | None = None,
    ):
        super().__init__()
        # With fewer samples than ranks some ranks get none; they must still take part, not fail.
        self.allow_zero_length_dataloader_with_multiple_devices = True
        self.pending = pending
        self.collate = collate
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.resize_edited = resize_edited
        self.limits = limits
        self.cost_model = cost_model
        self.batch_size_for = batch_size_for
        self.dataset: PairDataset | None = None

    def setup(self, stage: str) -> None:
        if self.dataset is None:
            self.dataset = PairDataset(self.pending(), self.resize_edited, self.limits)

    def costs(self) -> list[float] | None:
        """Every pending sample's estimated cost, from its images' headers (no decoding); None without a model."""
        if self.cost_model is None:
            return None
        costs = []
        for s in self.dataset.samples:
            source, edited = _size(s.source), _size(s.edited)
            sizes = {"source": source, "edited": source if self.resize_edited else edited}
            costs.append(self.cost_model.cost(sizes, s.instruction))
        return costs

    def predict_dataloader(self) -> DataLoader:
        sampler = ShardSampler(
            self.dataset, num_replicas=self.trainer.world_size, rank=self.trainer.global_rank, costs=self.costs()
        )
        batch_size = self.batch_size
        if batch_size == "auto":
            # The sampler puts this rank's heaviest samples first: what fits for them fits for every batch.
            heaviest = [self.dataset[i] for i in list(sampler)[:AUTO_BATCH_MAX]]
            batch_size = self.batch_size_for(heaviest) if heaviest else 1
        return DataLoader(
            self.dataset,
            batch_size=int(batch_size),
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=self.collate,
            pin_memory=self.trainer.strategy.root_device.type == "cuda",
            persistent_workers=False,
            # By now this process runs gloo, store and queue threads; a worker forked from it can deadlock inside
            # fork() on a lock one of them held. Workers fork from a clean server process instead.
            multiprocessing_context=_worker_context() if self.num_workers > 0 else None,
        )
