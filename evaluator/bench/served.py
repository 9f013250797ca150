"""``python -m evaluator.bench.served``: ``backend=vllm`` with a judge of a real shape and random weights, in generate
and logit mode, on the synthetic pairs of ``python -m evaluator.bench``; ``--tiny``: the test shape on the CPU.

Nothing is downloaded and no weights are written: the judge's folder holds its config, tokenizer and processor, and
vLLM makes up random weights (``--load-format dummy``). Each mode is one run of ``python -m evaluator`` as a user
starts it; its log gives the time until the servers were ready and the samples per second once they were.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from evaluator.bench.throughput import REAL_PIXELS, REAL_SPECS, synth_pairs
from evaluator.judge import qwen_vl
from evaluator.results.writing import atomic_write
from evaluator.runtime import processes

_READY = re.compile(r"vllm: \S+ ready after (\d+) s")
_SCORED = re.compile(r"scored (\d+) samples in ([\d.]+) s \(([\d.]+) samples/s\)")


def weightless_judge(shape: str, folder: Path) -> Path:
    """A judge folder of ``shape`` without weights: its config, generation config, tokenizer and processor."""
    from transformers import GenerationConfig

    tiny = shape in qwen_vl.TINY_SPECS
    spec = qwen_vl.TINY_SPECS[shape] if tiny else REAL_SPECS[shape]
    if tiny:  # the real vocabulary, as a real shape has: sampled ids the tiny tokenizer lacks must not break vLLM
        spec = {**spec, "text": {**spec["text"], "vocab_size": 151936}}
    tokenizer = qwen_vl.build_tokenizer()
    qwen_vl.build_processor(tokenizer, None if tiny else REAL_PIXELS).save_pretrained(folder)
    config = qwen_vl.build_config(spec, tokenizer)
    moe = spec["arch"] == "qwen3_vl_moe"
    config.architectures = ["Qwen3VLMoeForConditionalGeneration" if moe else "Qwen3VLForConditionalGeneration"]
    config.save_pretrained(folder)
    eos, pad = config.text_config.eos_token_id, config.text_config.pad_token_id
    GenerationConfig(eos_token_id=eos, pad_token_id=pad, do_sample=False).save_pretrained(folder)
    return folder


def run_mode(args, judge: Path, manifest: Path, mode: str, out: Path) -> dict:
    """One ``backend=vllm`` run in ``mode``; what its log says of the servers and the throughput."""
    overrides = [
        "backend=vllm", f"model.name_or_path={judge}", f"judge.mode={mode}", "data=manifest",
        f"data.path={manifest}", f"out_dir={out}", "report=false", f"model.max_new_tokens={args.new_tokens}",
        "vllm.extra_args=[--load-format,dummy]", f"vllm.max_num_seqs={args.max_num_seqs}",
        "model.local_files_only=true",
    ]  # fmt: skip
    if args.vllm_python:
        overrides.append(f"vllm.python={args.vllm_python}")
    if args.tiny:
        overrides += ["model=tiny", "vllm.enforce_eager=true", "+vllm.env.VLLM_CPU_KVCACHE_SPACE=1"]
    start = time.perf_counter()
    done = processes.output_of([sys.executable, "-m", "evaluator", *overrides], timeout_s=3600)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{mode}: exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    text = (out / "logs" / "rank-0.log").read_text()
    ready = [int(m) for m in _READY.findall(text)]
    scored = _SCORED.findall(text)
    n, seconds, rate = scored[-1]
    return {"mode": mode, "samples": int(n), "ready_s": max(ready, default=None), "judging_s": float(seconds),
            "samples_per_s": float(rate), "wall_s": round(wall, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m evaluator.bench.served", description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the test shape on the CPU (vllm-cpu)")
    parser.add_argument("--shape", default="qwen3_vl_8b", help="qwen3_vl_8b or qwen3_vl_30b_a3b")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--size", type=int, default=1024, help="image side in pixels (default 1024)")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--max-num-seqs", type=int, default=64)
    parser.add_argument("--modes", default="generate,logits")
    parser.add_argument("--vllm-python", default=None, help="the interpreter that has vLLM (default: this one)")
    parser.add_argument("--json", type=Path, default=Path("bench-vllm.json"))
    args = parser.parse_args(argv)
    if args.tiny:
        args.shape, args.size = "qwen3_vl", min(args.size, 256)
    work = Path(tempfile.mkdtemp(prefix="evaluator-bench-vllm-"))
    judge = weightless_judge(args.shape, work / "judge")
    manifest = synth_pairs(work / "pairs", args.samples, args.size, mixed=False)
    results = [run_mode(args, judge, manifest, m, work / m) for m in args.modes.split(",")]
    report = {"shape": args.shape, "image_size": args.size, "new_tokens": args.new_tokens, "results": results}
    atomic_write(args.json, json.dumps(report, indent=2) + "\n")
    sys.stdout.write(f"backend=vllm, {args.shape}, {args.size}px pairs\n")
    for r in results:
        sys.stdout.write(
            f"{r['mode']}: {r['samples']} samples, servers ready after {r['ready_s']} s, {r['judging_s']:.1f} s "
            f"judging ({r['samples_per_s']:.2f} samples/s, {r['judging_s'] / r['samples']:.3f} s/sample)\n"
        )
    return report


if __name__ == "__main__":
    main()
