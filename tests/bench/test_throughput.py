import json

import pytest

from evaluator.bench import throughput
from evaluator.judge import qwen_vl

pytestmark = pytest.mark.slow


def test_tiny_bench_runs_and_reports_every_measure(tmp_path, restore_environ, capsys):
    report = throughput.main(
        ["--tiny", "--json", str(tmp_path / "throughput.json"), "--work-dir", str(tmp_path / "work")]
    )
    assert json.loads((tmp_path / "throughput.json").read_text()) == report
    names = [(r["shape"], r["name"]) for r in report["results"]]
    measures = ["baseline", "bare-generate", "bare-forward", "pipeline-generate", "pipeline-logits"]
    assert names == [(s, m) for s in ("qwen3_vl", "qwen3_vl_moe") for m in measures]
    for r in report["results"]:
        assert set(r) >= {"s_per_sample", "samples_per_s", "peak_gb", "busy", "vs_baseline", "vs_floor", "load_s"}
        assert r["s_per_sample"] > 0 and r["vs_baseline"] > 0
    # The pipeline scored every sample exactly once (it refuses to report a figure otherwise).
    for mode in ("generate", "logits"):
        rows = (tmp_path / "work" / f"out-qwen3_vl-{mode}" / "results.jsonl").read_text().splitlines()
        assert len(rows) == len({json.loads(r)["id"] for r in rows}) == 8
    assert report["results"][0]["load_s"] > 0  # the checkpoint was saved and loaded back
    b = report["balance"]
    assert b["world_size"] == 6 and b["max_over_mean_balanced"] <= 1.05
    out = capsys.readouterr().out
    assert "| qwen3_vl_moe | pipeline-logits |" in out and "balance over 6 ranks" in out


def test_flop_count_of_the_real_30b_a3b_shape_matches_the_anchor():
    import torch
    from transformers import AutoModelForImageTextToText

    config = qwen_vl.build_config(throughput.REAL_SPECS["qwen3_vl_30b_a3b"], qwen_vl.build_tokenizer())
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config)
    # The team's anchor figure (shared/ANCHORS.md, beside the repository, not in it): about 27 TFLOP of prefill for
    # one sample of ~2,315 prompt tokens with two 1024x1024 images (2 x 4,096 patches).
    flops = throughput.flops_per_sample(model, 2315, 2 * 4096, 0)
    assert 22e12 < flops < 32e12


def test_help_imports_no_torch():
    """Issue 19, trap 8: ``python -m evaluator.bench --help`` took 13.5 s importing torch and Lightning first."""
    import subprocess
    import sys

    code = "import sys, evaluator.bench.throughput; print(sorted({'torch', 'lightning', 'transformers'} & set(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "[]", proc.stderr
