"""The CUDA-only paths, on one GPU: ``pytest -m gpu`` (skipped without CUDA; see bench/NOTES.md for results)."""

import logging

import pytest
import torch

from evaluator.config.compose import compose
from evaluator.judge.loading import load_model, load_processor
from evaluator.judge.module import JudgeModule
from evaluator.judge.stage import run
from evaluator.scoring.schemes import Scheme

from ..conftest import DEMO_MANIFEST, assert_ok, read_jsonl, run_cli
from ..fixtures import judge_dict, model_cfg
from ..judge.test_module import _batch

pytestmark = pytest.mark.gpu
N_DEMO = len(DEMO_MANIFEST.read_text().splitlines())
GPU = ["model=tiny", "trainer=gpu", "trainer.devices=1", "report=false"]


def test_bf16_judge_loads_straight_onto_cuda_0():
    model = load_model(model_cfg(dtype="bfloat16"), torch.device("cuda", 0))
    devices = {p.device for p in model.parameters()}
    assert devices == {torch.device("cuda", 0)} and {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_batch_size_auto_finds_a_size_and_scores_everything(tmp_path, restore_environ, caplog):
    with caplog.at_level(logging.INFO, logger="evaluator.judge.module"):
        run(compose([*GPU, "data.batch_size=auto", f"out_dir={tmp_path}"]))
    assert "data.batch_size=auto:" in caplog.text
    assert len(read_jsonl(tmp_path / "results.jsonl")) == N_DEMO


def test_a_real_out_of_memory_halves_the_batch(monkeypatch):
    processor = load_processor(model_cfg())
    scheme = Scheme.from_config(judge_dict("score10"))
    module = JudgeModule(model_cfg(max_new_tokens=4), scheme, processor).to("cuda")
    module.model = load_model(model_cfg(), torch.device("cuda", 0))
    batch = module.transfer_batch_to_device(_batch(processor, scheme, [(64, 64)] * 4), torch.device("cuda"), 0)
    free, _ = torch.cuda.mem_get_info()
    per_sample = int(free * 0.4)  # two samples fit, three do not: a genuine allocator failure
    sizes = []
    real_score = module._score_generate

    def heavy(b):
        sizes.append(len(b["id"]))
        ballast = torch.empty(per_sample * len(b["id"]), dtype=torch.uint8, device="cuda")
        del ballast
        return real_score(b)

    monkeypatch.setattr(module, "_score_generate", heavy)
    rows = module._score_splitting_on_oom(batch)
    assert sizes == [4, 2, 2] and len(rows) == 4
    assert all("out of memory" not in str(r["errors"]) for r in rows)


def test_logit_scores_on_cuda_match_the_cpu():
    processor = load_processor(model_cfg())
    scheme = Scheme.from_config({**judge_dict("score10"), "mode": "logits"})
    items = _batch(processor, scheme, [(64, 64), (96, 64)])
    out = {}
    for device in ("cpu", "cuda"):
        module = JudgeModule(model_cfg(), scheme, processor, model=load_model(model_cfg(), torch.device(device)))
        batch = module.transfer_batch_to_device(items, torch.device(device), 0)
        out[device] = [p["scores"]["score"] for p in module._score_logits(batch)]
    assert out["cuda"] == pytest.approx(out["cpu"], abs=1e-3)


def test_one_rank_pipeline_end_to_end(tmp_path):
    proc = run_cli([*GPU, "judge.mode=logits", f"out_dir={tmp_path}"])
    assert_ok(proc)
    rows = read_jsonl(tmp_path / "results.jsonl")
    assert len(rows) == N_DEMO and all(r["error"] is None and r["rank"] == 0 for r in rows)
    assert "[rank 0/1 cuda:0]" in proc.stderr


def test_the_editor_loads_onto_the_gpu_and_pipeline_judges_its_edits(tmp_path):
    """diffusers' "cuda" placement on this rank's device, then the judge on the same GPU after the editor is freed."""
    args = ["editor=tiny", *GPU, "data.limit=6", "judge.mode=logits", f"edit_dir={tmp_path}/edits",
            f"out_dir={tmp_path}/judged"]  # fmt: skip
    assert_ok(run_cli(args, module="evaluator.pipeline"))
    assert len(list((tmp_path / "edits" / "edits").glob("*.png"))) == 6
    assert len(read_jsonl(tmp_path / "judged" / "results.jsonl")) == 6
