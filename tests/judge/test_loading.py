import shutil

import pytest
import torch
from safetensors.torch import load_file

from evaluator.config.compose import compose, conf_dir
from evaluator.judge.loading import load_model, load_processor
from evaluator.judge.qwen_vl import TINY_JUDGES
from evaluator.runtime.errors import JudgeUnavailable

from ..fixtures import model_cfg


@pytest.mark.parametrize("preset", sorted(p.stem for p in (conf_dir() / "model").glob("*.yaml")))
def test_remote_code_is_off_in_every_preset(preset):
    assert compose([f"model={preset}"]).model.trust_remote_code is False


def test_weights_load_from_safetensors_only(tmp_path):
    folder = tmp_path / "judge"
    shutil.copytree(TINY_JUDGES.ensure_built("qwen3_vl"), folder)
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


@pytest.mark.slow
def test_a_hub_judge_without_a_network_is_one_line_and_exit_3_at_once(tmp_path):
    """Issue 19, trap 2: 180 s and 66 lines of the hub's retry warnings before the one useful line."""
    from ..conftest import run_cli

    proc = run_cli(["model=qwen3_vl_8b", "trainer=cpu", f"out_dir={tmp_path / 'out'}"], HF_HUB_OFFLINE="",
                   HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT="http://127.0.0.1:9")  # fmt: skip
    assert proc.returncode == 3, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Retrying" not in proc.stderr and "Traceback" not in proc.stderr
    assert "model.name_or_path=Qwen/Qwen3-VL-8B-Instruct is not in the Hugging Face cache" in errors[0]
    assert "http://127.0.0.1:9 cannot be reached" in errors[0] and "hf download Qwen/Qwen3-VL-8B-Instruct" in errors[0]


def test_a_cached_hub_judge_without_a_network_is_used_offline(tmp_path, monkeypatch):
    import os

    from evaluator.config import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "")  # restored after the test, whatever check_fetchable sets
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    snapshot = tmp_path / "hub" / "models--org--judge" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    hub.check_fetchable("org/judge", "model.name_or_path")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(JudgeUnavailable, match="org/other is not in the Hugging Face cache"):
        monkeypatch.setenv("HF_HUB_OFFLINE", "")
        hub.check_fetchable("org/other", "model.name_or_path")
