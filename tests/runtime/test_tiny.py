import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from evaluator.judge.qwen_vl import TINY_JUDGES


def test_racing_builders_leave_one_loadable_checkpoint(tmp_path):
    # Spawned, not forked: by now this pytest process has run judges in-process (OpenMP and gloo threads), and a
    # child forked from it can die inside torch before it builds anything.
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        folders = list(pool.map(TINY_JUDGES.ensure_built, ["qwen3_vl"] * 3, [tmp_path] * 3))
    assert len(set(folders)) == 1
    left = [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
    assert left == [folders[0].name]  # no temporary folders left behind
    assert (folders[0] / "model.safetensors").exists()
    model = AutoModelForImageTextToText.from_pretrained(folders[0])
    processor = AutoProcessor.from_pretrained(folders[0])
    assert model.config.image_token_id == processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert model.config.text_config.vocab_size == len(processor.tokenizer)


def test_builds_are_identical(tmp_path):
    a = TINY_JUDGES.ensure_built("qwen3_vl_moe", tmp_path / "a")
    b = TINY_JUDGES.ensure_built("qwen3_vl_moe", tmp_path / "b")
    ma, mb = (AutoModelForImageTextToText.from_pretrained(p) for p in (a, b))
    assert type(ma).__name__ == "Qwen3VLMoeForConditionalGeneration"
    assert all(torch.equal(x, y) for x, y in zip(ma.state_dict().values(), mb.state_dict().values(), strict=True))


def test_resolve_passes_real_names_through():
    assert TINY_JUDGES.resolve("Qwen/Qwen3-VL-8B-Instruct") == "Qwen/Qwen3-VL-8B-Instruct"
