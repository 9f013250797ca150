"""The benchmark's measurements (see ``evaluator.bench.throughput``): the old setup, the bare model, the whole
pipeline and loading a checkpoint, each on the same device and the same synthetic pairs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from evaluator.config.compose import compose
from evaluator.inputs.images import load_rgb
from evaluator.judge.stage import run
from evaluator.results.writing import read_jsonl_text

log = logging.getLogger(__name__)


@dataclass
class Result:
    name: str
    shape: str
    batch: int
    samples: int
    s_per_sample: float
    peak_gb: float | None
    busy: float | None
    vs_baseline: float | None = None
    vs_floor: float | None = None
    load_s: float | None = None

    @property
    def samples_per_s(self) -> float:
        return 1 / self.s_per_sample


def prepared_batches(processor, scheme, samples: list[dict], batch: int, device):
    """Collated batches of ``samples``, moved to ``device``, one at a time."""
    from evaluator.scoring.prompts import Collator

    collate = Collator(processor, scheme)
    for i in range(0, len(samples), batch):
        yield {k: v.to(device) for k, v in collate(samples[i : i + batch])["inputs"].items()}


def items(manifest: Path, n: int) -> list[dict]:
    """The first ``n`` samples of ``manifest`` as the dataset serves them, images decoded."""
    from evaluator.inputs.manifest import read_manifest

    samples, _ = read_manifest(manifest)
    return [{"sample": s, "source": load_rgb(s.source), "edited": load_rgb(s.edited)} for s in samples[:n]]


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _reset_peak(device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _peak_gb(device) -> float | None:
    return torch.cuda.max_memory_allocated() / 1e9 if device.type == "cuda" else None


@torch.inference_mode()
def measure_baseline(*, model, processor, scheme, manifest, device, shape, n, new_tokens, **_) -> Result:
    """The old setup: preprocessing in the main process, batch 4, eager experts, greedy generate."""
    switch = hasattr(model.config.text_config, "num_experts") and hasattr(model, "set_experts_implementation")
    original = getattr(model.config, "_experts_implementation", None)
    if switch:
        model.set_experts_implementation("eager")
    _reset_peak(device)
    busy = 0.0
    start = time.perf_counter()
    decoded = items(manifest, n)  # decoding counts: the old setup read its images as it went
    for batch in prepared_batches(processor, scheme, decoded, 4, device):
        t = time.perf_counter()
        model.generate(**batch, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        _sync(device)
        busy += time.perf_counter() - t
    wall = time.perf_counter() - start
    if switch and original:
        model.set_experts_implementation(original)
    return Result("baseline", shape, 4, n, wall / n, _peak_gb(device), busy / wall)


@torch.inference_mode()
def measure_bare(*, model, processor, scheme, manifest, device, shape, n, batch, new_tokens, generate, **_) -> Result:
    """The model alone, on batches prepared and moved to the device beforehand."""
    batches = list(prepared_batches(processor, scheme, items(manifest, n), batch, device))
    _reset_peak(device)
    _sync(device)
    start = time.perf_counter()
    for b in batches:
        if generate:
            model.generate(**b, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        else:
            model(**b, logits_to_keep=1)
    _sync(device)
    wall = time.perf_counter() - start
    return Result("bare-generate" if generate else "bare-forward", shape, batch, n, wall / n, _peak_gb(device), 1.0)


def measure_pipeline(*, model, manifest, device, shape, n, batch, new_tokens, mode, work, workers, **_) -> Result:
    """The whole pipeline, from the manifest on disk to the result files, with the judge already in memory."""
    out = work / f"out-{shape}-{mode}"
    subset = manifest.parent / f"{shape}-{mode}.jsonl"
    subset.write_text("".join(manifest.read_text().splitlines(keepends=True)[:n]))
    cfg = compose(
        [
            f"model.name_or_path={work / f'processor-{shape}'}", f"model.max_new_tokens={new_tokens}",
            f"judge.mode={mode}", "data=manifest", f"data.path={subset}",
            f"data.batch_size={batch}", f"data.num_workers={workers}", f"out_dir={out}", "resume=false",
            "data.on_error=fail", "report=false",
            f"trainer.accelerator={'gpu' if device.type == 'cuda' else 'cpu'}", "trainer.devices=1",
            "log_level=WARNING",
        ]
    )  # fmt: skip
    # Random weights would stop at a random end-of-text token; the generation config makes every reply full length.
    model.generation_config.min_new_tokens = new_tokens if mode == "generate" else None
    _reset_peak(device)
    start = time.perf_counter()
    try:
        run(cfg, model=model)
    finally:
        model.generation_config.min_new_tokens = None
    wall = time.perf_counter() - start
    rows = read_jsonl_text((out / "results.jsonl").read_text(encoding="utf-8"))
    if sorted(r["id"] for r in rows) != sorted({r["id"] for r in rows}) or len(rows) != n:
        raise RuntimeError(f"pipeline wrote {len(rows)} rows for {n} samples")  # exactly once, or no figure
    busy = sum(r["seconds"] for r in rows) / wall
    return Result(f"pipeline-{mode}", shape, batch, n, wall / n, _peak_gb(device), busy)


def measure_load(model, folder: Path, device) -> float | None:
    """Seconds to load the judge from a local safetensors checkpoint onto ``device``, as every rank does; None
    when the disk cannot hold the checkpoint."""
    import shutil

    from omegaconf import OmegaConf

    from evaluator.config.schema import ModelConfig
    from evaluator.judge.loading import load_model

    size = sum(p.numel() * p.element_size() for p in model.parameters())
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.disk_usage(folder).free < 1.2 * size:
        log.warning("skipping the load check: %.0f GB checkpoint, too little free disk", size / 1e9)
        return None
    model.save_pretrained(folder)
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    _sync(device)
    start = time.perf_counter()
    cfg = OmegaConf.merge(OmegaConf.structured(ModelConfig), {"name_or_path": str(folder), "dtype": dtype})
    loaded = load_model(cfg, device)
    _sync(device)
    seconds = time.perf_counter() - start
    del loaded
    return seconds
