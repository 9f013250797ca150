import shutil

import pytest
import torch
from safetensors.torch import load_file

from evaluator import tiny
from evaluator.config import compose, conf_dir
from evaluator.errors import JudgeUnavailable
from evaluator.loading import load_model, load_processor

from .fixtures import model_cfg


@pytest.mark.parametrize("preset", sorted(p.stem for p in (conf_dir() / "model").glob("*.yaml")))
def test_remote_code_is_off_in_every_preset(preset):
    assert compose([f"model={preset}"]).model.trust_remote_code is False


def test_weights_load_from_safetensors_only(tmp_path):
    folder = tmp_path / "judge"
    shutil.copytree(tiny.ensure_built("qwen3_vl"), folder)
    cfg = model_cfg(name_or_path=str(folder), dtype="float32")
    assert load_model(cfg, torch.device("cpu")).training is False
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")  # a pickle: can run code
    (folder / "model.safetensors").unlink()
    with pytest.raises(JudgeUnavailable, match="model=tiny"):
        load_model(cfg, torch.device("cpu"))


def test_local_files_only_fetches_nothing(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    cfg = model_cfg(name_or_path="Qwen/Qwen3-VL-8B-Instruct", local_files_only=True)
    with pytest.raises(JudgeUnavailable, match="Qwen/Qwen3-VL-8B-Instruct"):
        load_processor(cfg)


def test_frozen_judge_has_no_gradients():
    cfg = model_cfg(dtype="float32")
    model = load_model(cfg, torch.device("cpu"))
    assert not any(p.requires_grad for p in model.parameters())
