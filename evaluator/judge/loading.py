"""Loading a judge's processor and weights onto one rank's device."""

from __future__ import annotations

import logging
import time

import torch

from evaluator.judge import adapters, qwen_vl
from evaluator.runtime.errors import JudgeUnavailable, first_line
from evaluator.runtime.logs import FILE_ONLY

log = logging.getLogger(__name__)


def _pretrained_kwargs(model_cfg) -> dict:
    return {
        # With an adapter, the merged judge in the cache is loaded: the base's revision was taken when merging.
        "revision": None if model_cfg.get("adapter") else model_cfg.revision or None,
        "local_files_only": model_cfg.local_files_only,
        "trust_remote_code": model_cfg.trust_remote_code,
    }


def _unavailable(name: str, err: Exception) -> JudgeUnavailable:
    first = first_line(err)
    return JudgeUnavailable(
        f"cannot load judge {name!r} ({first}); it is neither a local checkpoint folder nor in the Hugging Face "
        "cache, and the hub could not be reached. For an offline smoke run use model=tiny."
    )


def load_processor(model_cfg, max_pixels: int | None = None):
    """The judge's processor (tokenizer, image processor, chat template), padding on the left for generation, its
    images capped at ``max_pixels`` (``data.max_pixels``) where given."""
    from transformers import AutoProcessor

    path = adapters.checkpoint_folder(model_cfg)
    try:
        processor = AutoProcessor.from_pretrained(path, **_pretrained_kwargs(model_cfg))
    except (OSError, ValueError) as e:
        raise _unavailable(model_cfg.name_or_path, e) from e
    qwen_vl.limit_image_size(processor, max_pixels)
    return qwen_vl.prepare_processor(processor)


def _placement(model_cfg, path, device: torch.device, k: int, fraction: float) -> dict:
    """Where the weights go: all on ``device``, or spread over the replica's GPUs ``device`` … ``device + k - 1``."""
    if k == 1:
        return {"": device}
    from transformers import AutoConfig

    from evaluator.judge import replicas

    gpus = list(range(device.index, device.index + k))
    budget = int(fraction * min(torch.cuda.get_device_properties(g).total_memory for g in gpus))
    dtype = getattr(torch, model_cfg.dtype)
    config = AutoConfig.from_pretrained(path, **_pretrained_kwargs(model_cfg))
    meta = replicas.meta_model(config, dtype)
    placement = replicas.device_map(meta, gpus, budget, dtype)
    held = replicas.per_gpu_bytes(meta, placement, dtype)
    log.info("replica on GPUs %s: weights %s GiB (budget %.1f GiB each)", gpus,
             " + ".join(f"{held.get(g, 0) / replicas.GIB:.1f}" for g in gpus), budget / replicas.GIB)  # fmt: skip
    return placement


def load_model(model_cfg, device: torch.device, gpus_per_replica: int = 1, max_memory_fraction: float = 0.9):
    """The judge's weights, read from safetensors straight onto ``device``, frozen and in eval mode.

    One full copy per rank: never ``device_map="auto"``, which would spread one copy over every GPU. With
    ``gpus_per_replica`` k above 1, ``device`` is the first of this replica's k GPUs and the copy is spread over
    those k alone (see ``evaluator.judge.replicas``).
    """
    from transformers import AutoModelForImageTextToText
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one bar per rank per shard is noise; the load time is logged below

    path = adapters.checkpoint_folder(model_cfg)
    start = time.perf_counter()
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            path,
            dtype=getattr(torch, model_cfg.dtype),
            attn_implementation=model_cfg.attn_implementation or None,
            device_map=_placement(model_cfg, path, device, gpus_per_replica, max_memory_fraction),
            use_safetensors=True,
            **(
                {"experts_implementation": model_cfg.experts_implementation} if model_cfg.experts_implementation else {}
            ),
            **_pretrained_kwargs(model_cfg),
        )
    except OSError as e:
        raise _unavailable(model_cfg.name_or_path, e) from e
    model.eval().requires_grad_(False)
    seconds = time.perf_counter() - start
    log.info("loaded %s (%s) on %s in %.1fs", model_cfg.name_or_path, model_cfg.dtype, device, seconds, extra=FILE_ONLY)
    return model
