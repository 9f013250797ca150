"""Throughput benchmark: ``python -m evaluator.bench`` (one GPU) or ``python -m evaluator.bench --tiny`` (CPU).

Builds judges with random weights in the real shapes of Qwen3-VL-8B and Qwen3-VL-30B-A3B (``--tiny``: the test
shapes) with a tiny tokenizer and processor, so nothing is downloaded; synthesises image pairs on disk; and
measures on the same device, in one run:

- ``baseline``: the old setup: images preprocessed in the main process, plain ``generate``, batch 4, greedy,
  128 new tokens, eager MoE experts;
- ``pipeline-generate`` and ``pipeline-logits``: this project's whole pipeline (manifest on disk, DataLoader
  workers, ``predict_step``, result files) in generate mode (128 tokens) and in logit mode;
- ``bare-generate`` and ``bare-forward``: the model alone on batches prepared beforehand.

It prints a table (s/sample, samples/s, peak GPU memory, the fraction of wall time the model was computing, ratio
to the baseline, ratio to the compute floor, model load time), writes it as JSON, and reports how evenly the
balanced sampler spreads a mixed-size set over 6 ranks by its own cost model.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

from evaluator.config.compose import compose
from evaluator.judge import qwen_vl
from evaluator.results.writing import atomic_write

if TYPE_CHECKING:
    import torch

    from evaluator.bench.measures import Result

# torch, Lightning and transformers are imported where they are used, so --help answers in about a second.

log = logging.getLogger(__name__)

PEAK_BF16_FLOPS = 989e12  # H100 / H200 dense bf16
_VISION = {
    "depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "num_heads": 16, "patch_size": 16,
    "temporal_patch_size": 2, "spatial_merge_size": 2, "num_position_embeddings": 2304,
    "deepstack_visual_indexes": [8, 16, 24],
}  # fmt: skip
_ROPE = {"rope_type": "default", "rope_theta": 5e6, "mrope_section": [24, 20, 20], "mrope_interleaved": True}
REAL_SPECS = {
    "qwen3_vl_8b": {
        "arch": "qwen3_vl",
        "text": {"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
                 "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "rope_parameters": _ROPE,
                 "max_position_embeddings": 262144},
        "vision": {**_VISION, "out_hidden_size": 4096},
    },
    "qwen3_vl_30b_a3b": {
        "arch": "qwen3_vl_moe",
        "text": {"vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 48,
                 "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128, "rope_parameters": _ROPE,
                 "num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 768, "norm_topk_prob": True,
                 "decoder_sparse_step": 1, "max_position_embeddings": 262144},
        "vision": {**_VISION, "out_hidden_size": 2048},
    },
}  # fmt: skip
# Qwen3-VL's own limits: a 1024x1024 image gives 1,024 visual tokens.
REAL_PIXELS = {"min_pixels": 65536, "max_pixels": 16777216}
MIXED_SIZES = [(512, 512), (768, 768), (1024, 1024), (1024, 768), (768, 1024), (1536, 1024), (1280, 720), (640, 480)]


def synth_pairs(folder: Path, n: int, size: int, mixed: bool, seed: int = 0) -> Path:
    """``n`` (source, edit) pairs of smooth random pictures, and their manifest; returns the manifest."""
    rng = random.Random(seed)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        w, h = rng.choice(MIXED_SIZES) if mixed else (size, size)
        src = Image.linear_gradient("L").resize((w, h)).convert("RGB")
        draw = ImageDraw.Draw(src)
        for _ in range(6):
            x, y = rng.randrange(w), rng.randrange(h)
            draw.ellipse([x, y, x + w // 5, y + h // 5], fill=tuple(rng.randrange(256) for _ in range(3)))
        edit = src.rotate(rng.choice([0, 90, 180]), expand=False)
        src.save(folder / "img" / f"s{i}.jpg", quality=90)
        edit.save(folder / "img" / f"e{i}.jpg", quality=90)
        lines.append(json.dumps({"id": f"p{i}", "source": f"img/s{i}.jpg", "edited": f"img/e{i}.jpg",
                                 "instruction": "Rotate the picture and keep everything else."}))  # fmt: skip
    (folder / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "pairs.jsonl"


def build_judge(shape: str, device: torch.device, folder: Path):
    """A random judge of ``shape`` in memory on ``device``, and a folder with its tokenizer and processor."""
    import torch
    from transformers import AutoModelForImageTextToText

    spec = qwen_vl.TINY_SPECS[shape] if shape in qwen_vl.TINY_SPECS else REAL_SPECS[shape]
    tokenizer = qwen_vl.build_tokenizer()
    processor = qwen_vl.build_processor(tokenizer, None if shape in qwen_vl.TINY_SPECS else REAL_PIXELS)
    processor.save_pretrained(folder)
    config = qwen_vl.build_config(spec, tokenizer)
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    start = time.perf_counter()
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype).eval().requires_grad_(False)
    return model, processor, time.perf_counter() - start


def flops_per_sample(model, prompt_tokens: float, patches: float, new_tokens: int) -> float:
    """Matmul FLOPs of one sample: 2 x active parameters x tokens, causal attention, the vision tower."""
    text_cfg = model.config.text_config
    text = model.model.language_model
    active = sum(p.numel() for n, p in text.named_parameters() if "embed_tokens" not in n)
    experts = getattr(text_cfg, "num_experts", 0)
    if experts:
        expert_params = sum(p.numel() for n, p in text.named_parameters() if ".experts." in n)
        active -= expert_params * (1 - text_cfg.num_experts_per_tok / experts)
    vision = sum(p.numel() for p in model.model.visual.parameters())
    width = text_cfg.num_attention_heads * text_cfg.head_dim
    tokens = prompt_tokens + new_tokens
    attention = 2 * text_cfg.num_hidden_layers * tokens**2 * width
    return 2 * active * tokens + attention + 2 * vision * patches


def balance_report(world_size: int = 6, n: int = 900, seed: int = 0) -> dict:
    """How evenly ``n`` mixed-size pairs spread over ``world_size`` ranks, by the sampler's own cost model."""
    from evaluator.runtime.sampler import CostModel, ShardSampler, balanced_shards
    from evaluator.scoring.schemes import Scheme

    rng = random.Random(seed)
    tokenizer = qwen_vl.build_tokenizer()
    processor = qwen_vl.build_processor(tokenizer, REAL_PIXELS)
    scheme = Scheme.from_config(compose().judge)
    cost = CostModel.for_judge(processor, scheme, 128)
    costs = [cost.cost({"source": rng.choice(MIXED_SIZES), "edited": rng.choice(MIXED_SIZES)}) for _ in range(n)]

    def ratio(shards):
        loads = [sum(costs[i] for i in s) for s in shards]
        return max(loads) / (sum(loads) / len(loads))

    balanced = balanced_shards(costs, world_size)
    strided = [list(ShardSampler(range(n), world_size, r)) for r in range(world_size)]
    assert sorted(i for s in balanced for i in s) == list(range(n))
    return {"world_size": world_size, "samples": n, "max_over_mean_balanced": ratio(balanced),
            "max_over_mean_strided": ratio(strided)}  # fmt: skip


def results_markdown(results: list[Result]) -> str:
    head = "| shape | measure | batch | n | s/sample | samples/s | peak GB | busy | × baseline | × floor | load s |"
    lines = [head, "| --- | --- |" + " ---: |" * 9]

    def f(x, fmt="{:.3f}"):
        return "–" if x is None else fmt.format(x)

    for r in results:
        lines.append(
            f"| {r.shape} | {r.name} | {r.batch} | {r.samples} | {r.s_per_sample:.4f} | {r.samples_per_s:.2f} | "
            f"{f(r.peak_gb, '{:.1f}')} | {f(r.busy, '{:.2f}')} | {f(r.vs_baseline, '{:.1f}')} | "
            f"{f(r.vs_floor, '{:.1f}')} | {f(r.load_s, '{:.1f}')} |"
        )
    return "\n".join(lines) + "\n"


def measure_shape(args, shape: str, device, work: Path, manifest: Path, scheme) -> list[Result]:
    """Every measure for one judge shape, each against the baseline and the compute floor."""
    import torch

    from evaluator.bench.measures import (
        items,
        measure_bare,
        measure_baseline,
        measure_load,
        measure_pipeline,
        prepared_batches,
    )

    model, processor, build_s = build_judge(shape, device, work / f"processor-{shape}")
    m = {"model": model, "processor": processor, "scheme": scheme, "manifest": manifest, "device": device,
         "shape": shape, "n": args.samples, "batch": args.batch, "new_tokens": args.new_tokens}  # fmt: skip
    results = [
        measure_baseline(**{**m, "n": args.baseline_samples}),
        measure_bare(**m, generate=True),
        measure_bare(**{**m, "new_tokens": 0}, generate=False),
        *(measure_pipeline(**m, mode=mode, work=work, workers=args.workers) for mode in ("generate", "logits")),
    ]
    batch = next(prepared_batches(processor, scheme, items(manifest, 1), 1, "cpu"))
    tokens, patches = float(batch["attention_mask"].sum()), float(batch["image_grid_thw"].prod(-1).sum())
    for r in results:
        r.vs_baseline = results[0].s_per_sample / r.s_per_sample
        new = 0 if r.name.endswith(("forward", "logits")) else args.new_tokens
        if device.type == "cuda":
            r.vs_floor = r.s_per_sample / (flops_per_sample(model, tokens, patches, new) / PEAK_BF16_FLOPS)
    if args.load_check or args.tiny:
        results[0].load_s = measure_load(model, work / f"checkpoint-{shape}", device)
    log.info("%s: random init on %s in %.1fs", shape, device, build_s)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m evaluator.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="test-sized judges on the CPU (the CI smoke test)")
    parser.add_argument("--shapes", default=None, help="comma-separated: qwen3_vl_8b,qwen3_vl_30b_a3b (default both)")
    parser.add_argument("--size", type=int, default=1024, help="image side in pixels (default 1024)")
    parser.add_argument("--mixed", action="store_true", help="mixed image sizes instead of one size")
    parser.add_argument("--batch", type=int, default=16, help="batch size of this pipeline and the bare model")
    parser.add_argument("--baseline-samples", type=int, default=8)
    parser.add_argument("--samples", type=int, default=48, help="samples per pipeline and bare measurement")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--workers", type=int, default=8, help="DataLoader workers of the pipeline")
    parser.add_argument("--load-check", action="store_true", help="save each judge and time loading it (disk!)")
    parser.add_argument("--json", type=Path, default=Path("bench.json"))
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    import torch

    from evaluator.scoring.schemes import Scheme

    if args.tiny:
        args.shapes = args.shapes or "qwen3_vl,qwen3_vl_moe"
        args.size, args.batch, args.new_tokens, args.workers = min(args.size, 256), 4, 8, 1
        args.samples, args.baseline_samples = min(args.samples, 8), min(args.baseline_samples, 4)
    shapes = (args.shapes or "qwen3_vl_8b,qwen3_vl_30b_a3b").split(",")
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="evaluator-bench-"))
    manifest = synth_pairs(work / "pairs", max(args.samples, args.baseline_samples), args.size, args.mixed)
    scheme = Scheme.from_config(compose().judge)
    results: list[Result] = []
    for shape in shapes:
        results += measure_shape(args, shape, device, work, manifest, scheme)
    report = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "image_size": "mixed" if args.mixed else args.size,
        "results": [{**asdict(r), "samples_per_s": r.samples_per_s} for r in results],
        "balance": balance_report(),
    }
    atomic_write(args.json, json.dumps(report, indent=2) + "\n")
    b = report["balance"]
    sys.stdout.write(f"device: {report['device']}\n\n{results_markdown(results)}\n")
    sys.stdout.write(
        f"balance over {b['world_size']} ranks of {b['samples']} mixed-size pairs (max/mean estimated cost): "
        f"{b['max_over_mean_balanced']:.3f} balanced, {b['max_over_mean_strided']:.3f} strided\n"
    )
    return report
