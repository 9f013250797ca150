"""``backend=vllm`` on one rank: its vLLM servers started (``evaluator.judge.vllm_server``), its share of the plan
judged through them by the same client ``backend=api`` uses, and the servers stopped, whatever happens.

Run alone, the process starts a server on each GPU (or group of ``trainer.gpus_per_replica``) and feeds them all;
under torchrun every rank owns the server of its own GPUs and judges every ``world_size``-th sample of the plan.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from omegaconf import OmegaConf

from evaluator.judge import adapters, qwen_vl, server, vllm_server
from evaluator.runtime.topology import server_device_groups

log = logging.getLogger(__name__)


def token_ids(tokenizer, scheme) -> dict[int, str] | None:
    """Logit mode: the ids of the tokens whose probabilities give the score (digits, or the verdict words' first
    tokens), with the text each stands for."""
    if scheme.mode != "logits":
        return None
    if scheme.labels:
        return dict(zip(qwen_vl.label_token_ids(tokenizer, scheme.labels), scheme.labels, strict=True))
    return {i: str(d) for d, i in enumerate(qwen_vl.digit_token_ids(tokenizer))}


def command_for(cfg, scheme, processor):
    """``(port, tp) -> command`` of this run's servers: the prompt length and image count the scheme needs, each
    image capped as the local judge caps it (``data.max_pixels``)."""
    layout = qwen_vl.PixelLayout.of(processor)
    images = max(len(p.images) for j in scheme.judgements for p in j.prompts)
    image_tokens = layout.max_pixels // (layout.patch * layout.merge) ** 2 + 2
    reply = int(scheme.max_new_tokens or cfg.model.max_new_tokens)
    length = vllm_server.max_model_len(cfg.vllm, int(cfg.data.max_prompt_tokens), image_tokens, images, reply)
    pixels = {"shortest_edge": layout.min_pixels, "longest_edge": layout.max_pixels} if cfg.data.max_pixels else None
    checkpoint = adapters.checkpoint_folder(cfg.model)

    def command(port: int, tp: int) -> list[str]:
        return vllm_server.server_command(cfg, checkpoint, port, tp, length, images, pixels)

    return command


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def judge_share(cfg, scheme, plan, out_dir: Path, fp: str, coordinator, processor) -> list[dict]:
    """This rank's share of ``plan.todo`` judged on its own vLLM servers; the rows, each in its shard as answered.
    While the servers start and while they judge, a failure or a stop on another rank (``coordinator.check``)
    ends this one too.

    Raises:
        JudgeUnavailable: a server exited (while starting or mid-run) or was not ready in time; its last error
            and its log's path in the message.
        Stopped: SIGTERM or SIGINT; the servers are stopped all the same.
    """
    rank = coordinator.rank
    share = plan.todo[rank :: coordinator.world_size]
    if not share:
        return []
    groups = server_device_groups(cfg.trainer, gpu_count())
    env = {**cfg.vllm.env, **({"HF_HUB_OFFLINE": "1"} if cfg.model.local_files_only else {})}
    servers = vllm_server.start_servers(command_for(cfg, scheme, processor), groups, out_dir / "logs", rank, env)
    try:
        vllm_server.wait_until_ready(servers, float(cfg.vllm.start_timeout_s), coordinator.check)
        api_cfg = OmegaConf.merge(cfg.api, {
            "base_url": [s.url for s in servers], "model": cfg.model.name_or_path, "key_env": None,
            "concurrency": cfg.vllm.max_num_seqs, "max_tokens": int(cfg.model.max_new_tokens),
        })  # fmt: skip
        return server.predict(
            cfg, scheme, share, plan.digests, out_dir, fp, api_cfg=api_cfg, rank=rank,
            token_ids=token_ids(processor.tokenizer, scheme), check=lambda: check(servers, coordinator),
            decode=functools.partial(processor.tokenizer.decode, skip_special_tokens=True),
        )  # fmt: skip
    finally:
        vllm_server.stop_servers(servers)


def check(servers, coordinator) -> None:
    """Raises: JudgeUnavailable when a server has exited; RankFailed or Stopped when another rank has."""
    vllm_server.check_running(servers)
    coordinator.check()
