"""Replica groups: a judge too big for one GPU spread over k of them, and N/k such judges side by side.

With ``trainer.gpus_per_replica=k`` each process is one replica: on a node of G visible GPUs, G/k processes,
process r holding GPUs r·k … r·k+k−1. Its judge is spread over those GPUs alone with a ``device_map`` that
accelerate computes for a ``max_memory`` of ``trainer.max_memory_fraction`` of each card, never over another
replica's GPUs. Sharding, resume and gathering see one rank per replica, exactly as one rank per GPU.
"""

from __future__ import annotations

import logging
import os

from evaluator.runtime.errors import ConfigError

log = logging.getLogger(__name__)

GIB = 1 << 30


def assign(gpus: int, k: int) -> list[list[int]]:
    """The GPUs of each replica: ``[[0, .., k-1], [k, .., 2k-1], ...]``.

    Raises:
        ConfigError: k is not a positive divisor of ``gpus``.
    """
    if k < 1:
        raise ConfigError(f"trainer.gpus_per_replica is a positive number of GPUs, not {k}")
    if k > gpus:
        raise ConfigError(f"trainer.gpus_per_replica={k} but this node has {gpus} visible GPU(s)")
    if gpus % k:
        raise ConfigError(
            f"{gpus} GPUs do not split into replicas of trainer.gpus_per_replica={k}; choose a divisor of {gpus} "
            "or set CUDA_VISIBLE_DEVICES to a multiple of it"
        )
    return [list(range(r * k, (r + 1) * k)) for r in range(gpus // k)]


def check_launch(gpus: int, k: int) -> list[list[int]]:
    """The replicas of this node, if the launcher started one process per replica.

    Raises:
        ConfigError: k does not divide the GPUs, or the launcher started another number of processes (or is
            Lightning's own, which starts one per GPU).
    """
    replicas = assign(gpus, k)
    if k == 1:
        return replicas
    if "LOCAL_WORLD_SIZE" not in os.environ:
        raise ConfigError(
            f"trainer.gpus_per_replica={k} needs one process per replica: start it with ./launch.sh or "
            f"torchrun --nproc_per_node={len(replicas)} -m evaluator"
        )
    started = int(os.environ["LOCAL_WORLD_SIZE"])
    if started != len(replicas):
        raise ConfigError(
            f"torchrun started {started} processes on this node; {gpus} GPUs in replicas of {k} need "
            f"--nproc_per_node={len(replicas)} (./launch.sh computes it)"
        )
    return replicas


def device_map(model, gpus: list[int], budget_bytes: int, dtype) -> dict:
    """Where each module of ``model`` (on the meta device) goes on the replica's ``gpus``, each GPU holding at
    most ``budget_bytes`` of weights.

    Raises:
        ConfigError: the weights do not fit the replica's GPUs.
    """
    from accelerate import infer_auto_device_map

    placement = infer_auto_device_map(
        model,
        max_memory={g: budget_bytes for g in gpus},
        no_split_module_classes=list(getattr(model, "_no_split_modules", None) or []),
        dtype=dtype,
    )
    outside = sorted({str(d) for d in placement.values() if d not in gpus})
    if outside:
        need = weight_bytes(model, dtype) / GIB
        raise ConfigError(
            f"the judge's {need:.0f} GiB of weights do not fit {len(gpus)} GPU(s) of {budget_bytes / GIB:.0f} GiB "
            f"each (some would go to {', '.join(outside)}); raise trainer.gpus_per_replica or "
            "trainer.max_memory_fraction"
        )
    return placement


def weight_bytes(model, dtype) -> int:
    """The bytes of the model's parameters and buffers in ``dtype``."""
    from accelerate.utils import compute_module_sizes

    return int(compute_module_sizes(model, dtype=dtype)[""])


def per_gpu_bytes(model, placement: dict, dtype) -> dict:
    """The weight bytes each GPU of a placement holds."""
    from accelerate.utils import compute_module_sizes

    sizes = compute_module_sizes(model, dtype=dtype)
    out: dict = {}
    for name, device in placement.items():
        out[device] = out.get(device, 0) + sizes[name]
    return out


def meta_model(config, dtype):
    """The judge built from its config on the meta device: its shapes, no memory."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForImageTextToText

    with init_empty_weights():
        return AutoModelForImageTextToText.from_config(config, dtype=dtype)
