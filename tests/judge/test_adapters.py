"""LoRA adapters (model.adapter): merged once, keyed on both checkpoints' contents, their scores never reused when
the adapter changes; an adapter run equals a run of the checkpoint merged by hand."""

import json
import shutil

import pytest
import torch

from evaluator.config.compose import compose
from evaluator.judge import adapters
from evaluator.judge.qwen_vl import TINY_JUDGES
from evaluator.judge.stage import run
from evaluator.runtime.errors import ConfigError, JudgeUnavailable

from ..conftest import read_jsonl, run_cli

peft = pytest.importorskip("peft")


def make_adapter(folder, seed: int, base: str | None = None):
    """A LoRA on the tiny judge's attention, with random (non-zero) weights, saved as PEFT saves any adapter."""
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_pretrained(TINY_JUDGES.ensure_built("qwen3_vl"), dtype=torch.float32)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    lora = peft.get_peft_model(model, config)
    for name, p in lora.named_parameters():
        if "lora_B" in name:  # large enough to move a random judge's scores
            torch.nn.init.normal_(p, std=0.5)
    lora.save_pretrained(folder)
    if base:
        config_file = folder / "adapter_config.json"
        config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "base_model_name_or_path": base}))
    return folder


def merged_by_hand(adapter, out):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    base = TINY_JUDGES.ensure_built("qwen3_vl")
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
    peft.PeftModel.from_pretrained(model, adapter).merge_and_unload().save_pretrained(out)
    AutoProcessor.from_pretrained(base).save_pretrained(out)
    return out


def _scores(out_dir, *overrides):
    run(compose(["model=tiny", "trainer=cpu", "judge.mode=logits", "model.dtype=float32", "data.num_workers=0",
                 "report=false", f"out_dir={out_dir}", *overrides]))  # fmt: skip
    return {r["id"]: r["score"] for r in read_jsonl(out_dir / "results.jsonl")}


def test_an_adapter_changes_the_scores_and_equals_its_merged_checkpoint(tmp_path, capsys):
    adapter = make_adapter(tmp_path / "lora", seed=1)
    base = _scores(tmp_path / "base")
    with_adapter = _scores(tmp_path / "adapter", f"model.adapter={adapter}")
    assert with_adapter.keys() == base.keys() and len(base) == 18
    assert sum(with_adapter[k] != base[k] for k in base) >= 12  # the adapter moved the judge
    merged = merged_by_hand(adapter, tmp_path / "merged")
    by_hand = _scores(tmp_path / "by-hand", f"model.name_or_path={merged}")
    assert by_hand == pytest.approx(with_adapter, abs=1e-5)
    assert capsys.readouterr().err.count("merged the adapter") == 1
    _scores(tmp_path / "adapter-again", f"model.adapter={adapter}")  # merged once: the cache's copy
    err = capsys.readouterr().err
    assert "merged the adapter" not in err and "trained on" not in err


def test_a_changed_adapter_is_merged_again_and_its_scores_not_reused(tmp_path, capsys):
    adapter = make_adapter(tmp_path / "lora", seed=2)
    out = tmp_path / "out"
    first = _scores(out, f"model.adapter={adapter}")
    shutil.rmtree(adapter)
    make_adapter(adapter, seed=3)  # the same folder, other weights
    capsys.readouterr()
    second = _scores(out, f"model.adapter={adapter}")
    err = capsys.readouterr().err
    assert "ignoring 18 earlier rows scored with other settings" in err and err.count("merged the adapter") == 1
    assert sum(second[k] != first[k] for k in first) >= 12


def test_merge_key_covers_both_checkpoints_and_the_dtype(tmp_path):
    adapter = make_adapter(tmp_path / "lora", seed=4)
    cfg = compose(["model=tiny", f"model.adapter={adapter}"]).model
    bf16 = adapters.checkpoint_folder(compose(["model=tiny", f"model.adapter={adapter}", "model.dtype=bfloat16"]).model)
    assert adapters.checkpoint_folder(cfg) != bf16
    merged = json.loads((tmp_path / bf16 / "merged-from.json").read_text())
    assert merged["adapter"] == str(adapter) and merged["dtype"] == "bfloat16"
    assert (
        adapters.adapter_digest(cfg) == adapters.adapter_digest(cfg)
        and adapters.adapter_digest(compose(["model=tiny"]).model) is None
    )


def test_an_adapter_for_another_architecture_is_one_line(tmp_path):
    adapter = make_adapter(tmp_path / "lora", seed=5)
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "target_modules": ["no_such_layer"]}))
    with pytest.raises(JudgeUnavailable, match=r"cannot merge model.adapter=.*no_such_layer"):
        adapters.checkpoint_folder(compose(["model=tiny", f"model.adapter={adapter}"]).model)


def test_adapter_mistakes_end_before_anything_loads(tmp_path):
    from evaluator.config.checks import check_judge

    with pytest.raises(ConfigError, match="no such folder"):
        check_judge(compose(["model=tiny", "trainer=cpu", f"model.adapter={tmp_path / 'missing'}"]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="is not a PEFT adapter folder"):
        check_judge(compose(["model=tiny", "trainer=cpu", f"model.adapter={tmp_path / 'empty'}"]))
    api = ["backend=api", "api.base_url=http://127.0.0.1:9/v1", "api.model=m", f"model.adapter={tmp_path}"]
    with pytest.raises(ConfigError, match="serve the merged judge"):
        check_judge(compose(["model=tiny", *api]))


def test_an_adapter_trained_on_another_base_warns(tmp_path, capsys):
    from evaluator.runtime import logs

    logs.setup()
    adapter = make_adapter(tmp_path / "lora", seed=6, base="Qwen/Qwen2.5-VL-7B-Instruct")
    adapters.checkpoint_folder(compose(["model=tiny", f"model.adapter={adapter}"]).model)
    assert "trained on Qwen/Qwen2.5-VL-7B-Instruct" in capsys.readouterr().err


@pytest.mark.slow
def test_two_ranks_merge_once_and_score_as_one(tmp_path):
    """Under torchrun the first rank merges (in a fresh process: save_pretrained writes weights on a group's rank 0
    only) while the other waits; both load the one merged judge."""
    adapter = make_adapter(tmp_path / "lora", seed=7)
    out = tmp_path / "two"
    proc = run_cli(["model=tiny", "trainer=cpu", "judge.mode=logits", "model.dtype=float32", "data.num_workers=0",
                    "report=false", f"model.adapter={adapter}", f"out_dir={out}"], nproc=2)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    logs = "".join(f.read_text() for f in (out / "logs").glob("rank-*.log"))  # either rank may take the lock
    assert logs.count("merged the adapter") == 1
    two = {r["id"]: r["score"] for r in read_jsonl(out / "results.jsonl")}
    assert _scores(tmp_path / "one", f"model.adapter={adapter}") == pytest.approx(two, abs=1e-5)


def test_a_hub_adapter_in_the_cache_is_merged_offline(tmp_path, monkeypatch):
    """A hub id (EditScore/EditScore-7B, say) read from the Hugging Face cache, as the presets name them."""
    hub = tmp_path / "hf" / "hub"
    repo = hub / "models--acme--tiny-lora"
    commit = "0" * 40
    make_adapter(repo / "snapshots" / commit, seed=8)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    cfg = compose(["model=tiny", "model.adapter=acme/tiny-lora"]).model
    merged = adapters.checkpoint_folder(cfg)
    assert json.loads((tmp_path / merged / "merged-from.json").read_text())["adapter"].endswith(commit)
    assert adapters.adapter_digest(cfg) == adapters.adapter_digest(
        compose(["model=tiny", f"model.adapter={repo / 'snapshots' / commit}"]).model
    )
