import shutil

import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file

from evaluator import tiny
from evaluator.config import CONF_DIR
from evaluator.loading import JudgeUnavailable, load_model, load_processor


@pytest.mark.parametrize("path", sorted((CONF_DIR / "model").glob("*.yaml")), ids=lambda p: p.stem)
def test_remote_code_is_off_in_every_preset(path):
    assert OmegaConf.load(path).trust_remote_code is False


def test_weights_load_from_safetensors_only(tmp_path):
    folder = tmp_path / "judge"
    shutil.copytree(tiny.ensure_built("qwen3_vl"), folder)
    cfg = OmegaConf.create({"name_or_path": str(folder), "dtype": "float32", "attn_implementation": "sdpa"})
    assert load_model(cfg, torch.device("cpu")).training is False
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")  # a pickle: can run code
    (folder / "model.safetensors").unlink()
    with pytest.raises(JudgeUnavailable, match="model=tiny"):
        load_model(cfg, torch.device("cpu"))


def test_local_files_only_fetches_nothing(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    cfg = OmegaConf.create({"name_or_path": "Qwen/Qwen3-VL-8B-Instruct", "local_files_only": True})
    with pytest.raises(JudgeUnavailable, match="Qwen/Qwen3-VL-8B-Instruct"):
        load_processor(cfg)


def test_frozen_judge_has_no_gradients():
    cfg = OmegaConf.create({"name_or_path": "tiny:qwen3_vl", "dtype": "float32"})
    model = load_model(cfg, torch.device("cpu"))
    assert not any(p.requires_grad for p in model.parameters())
