"""Replica groups (trainer.gpus_per_replica): which GPUs each process holds, and where a big judge's layers go.

The device maps are computed on the meta device with the real shapes of Qwen2.5-VL-72B and Qwen3-VL-235B-A22B
(their published configs' sizes, written out here): nothing is downloaded and no memory is taken.
"""

import pytest
import torch

from evaluator.config.checks import check_judge
from evaluator.config.compose import compose
from evaluator.judge import replicas
from evaluator.runtime.errors import ConfigError

CARD = int(0.9 * 80 * replicas.GIB)  # trainer.max_memory_fraction of an 80 GiB card


@pytest.mark.parametrize("gpus", range(1, 9))
@pytest.mark.parametrize("k", range(1, 9))
def test_assignment_of_gpus_to_replicas(gpus, k):
    if k > gpus or gpus % k:
        with pytest.raises(ConfigError, match=r"trainer\.gpus_per_replica"):
            replicas.assign(gpus, k)
        return
    groups = replicas.assign(gpus, k)
    assert len(groups) == gpus // k and all(len(g) == k for g in groups)
    assert [i for g in groups for i in g] == list(range(gpus))  # every GPU once, each replica's contiguous
    assert [g[0] for g in groups] == list(range(0, gpus, k))  # process r starts at GPU r*k


def test_the_launcher_must_start_one_process_per_replica(monkeypatch):
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert replicas.check_launch(6, 1) == [[i] for i in range(6)]  # k = 1: as before, any launcher
    with pytest.raises(ConfigError, match=r"start it with \./launch\.sh or torchrun --nproc_per_node=3"):
        replicas.check_launch(6, 2)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "6")
    with pytest.raises(ConfigError, match=r"torchrun started 6 processes .* need --nproc_per_node=3"):
        replicas.check_launch(6, 2)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "3")
    assert replicas.check_launch(6, 2) == [[0, 1], [2, 3], [4, 5]]


def test_more_than_one_gpu_per_replica_needs_gpus():
    with pytest.raises(ConfigError, match="spreads a judge over GPUs"):
        check_judge(compose(["model=tiny", "trainer=cpu", "trainer.gpus_per_replica=2"]))
    with pytest.raises(ConfigError, match=r"trainer\.gpus_per_replica is at least 1"):
        check_judge(compose(["model=tiny", "trainer=cpu", "trainer.gpus_per_replica=0"]))


def _qwen2_5_vl_72b():
    from transformers import Qwen2_5_VLConfig

    return Qwen2_5_VLConfig(
        text_config=dict(hidden_size=8192, intermediate_size=29568, num_hidden_layers=80, num_attention_heads=64,
                         num_key_value_heads=8, vocab_size=152064, tie_word_embeddings=False),
        vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3456, num_heads=16, out_hidden_size=8192,
                           patch_size=14, spatial_merge_size=2, window_size=112, fullatt_block_indexes=[7, 15, 23, 31]),
    )  # fmt: skip


def _qwen3_vl_235b_a22b():
    from transformers import Qwen3VLMoeConfig

    return Qwen3VLMoeConfig(
        text_config=dict(hidden_size=4096, num_hidden_layers=94, num_attention_heads=64, num_key_value_heads=4,
                         head_dim=128, moe_intermediate_size=1536, num_experts=128, num_experts_per_tok=8,
                         vocab_size=151936, intermediate_size=12288, decoder_sparse_step=1, tie_word_embeddings=False),
        vision_config=dict(depth=27, hidden_size=1152, intermediate_size=4304, num_heads=16, out_hidden_size=4096,
                           patch_size=16, spatial_merge_size=2, deepstack_visual_indexes=[8, 16, 24]),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("config", "billions", "k", "replica"),
    [(_qwen2_5_vl_72b, 146, 2, 1), (_qwen3_vl_235b_a22b, 470, 8, 0)],
    ids=["qwen2.5-vl-72b-k2", "qwen3-vl-235b-a22b-k8"],
)
def test_a_replicas_device_map_keeps_every_layer_on_its_own_gpus_within_budget(config, billions, k, replica):
    model = replicas.meta_model(config(), torch.bfloat16)
    assert billions < replicas.weight_bytes(model, torch.bfloat16) / 1e9 < billions + 2
    gpus = replicas.assign(8, k)[replica]  # e.g. GPUs 2 and 3 for the second replica of two
    placement = replicas.device_map(model, gpus, CARD, torch.bfloat16)
    assert set(placement.values()) <= set(gpus)  # never another replica's GPU, never the CPU or disk
    held = replicas.per_gpu_bytes(model, placement, torch.bfloat16)
    assert all(held[g] <= CARD for g in held)
    assert sum(held.values()) == replicas.weight_bytes(model, torch.bfloat16)  # every weight placed once
    with pytest.raises(ConfigError, match="do not fit 1 GPU"):  # one card is too small: said before loading
        replicas.device_map(model, gpus[:1], CARD, torch.bfloat16)


def test_one_gpu_per_replica_loads_as_before():
    from evaluator.judge.loading import _placement

    from ..fixtures import model_cfg

    device = torch.device("cpu")
    assert _placement(model_cfg(), "unused", device, 1, 0.9) == {"": device}  # all of it on the rank's device


def test_launch_sh_refuses_replicas_the_gpus_cannot_hold():
    import subprocess
    import sys

    from ..conftest import REPO, cli_env

    proc = subprocess.run(["./launch.sh", "model=tiny", "trainer.gpus_per_replica=2"], cwd=REPO,
                          env=cli_env(PYTHON=sys.executable, CUDA_VISIBLE_DEVICES=""), capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert "0 visible GPU(s) do not split into replicas of trainer.gpus_per_replica=2" in proc.stderr
