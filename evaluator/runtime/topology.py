"""Where this process sits in the job: its rank as the launcher set it, and the Trainer's devices and nodes.

Light on purpose (no torch): the entry point reads the rank before anything is loaded, to log on rank 0 only.
"""

from __future__ import annotations

import os


def env_rank() -> int:
    """This process's global rank as the launcher set it (torchrun, Lightning, SLURM); 0 when launched alone."""
    for key in ("RANK", "SLURM_PROCID"):
        if key in os.environ:
            return int(os.environ[key])
    # Lightning's own launcher sets only LOCAL_RANK and NODE_RANK for the processes it starts.
    return int(os.environ.get("LOCAL_RANK", 0)) + int(os.environ.get("NODE_RANK", 0)) * int(
        os.environ.get("LOCAL_WORLD_SIZE", 1)
    )


def under_torchrun() -> bool:
    """Whether torchrun (torch.distributed.run) started this process."""
    return "LOCAL_WORLD_SIZE" in os.environ and "TORCHELASTIC_RUN_ID" in os.environ


def topology(trainer_cfg) -> tuple:
    """``(devices, num_nodes)`` for the Trainer; under torchrun they follow torchrun's own world."""
    devices, num_nodes = trainer_cfg.devices, trainer_cfg.num_nodes
    if under_torchrun() and devices == "auto":
        devices = int(os.environ["LOCAL_WORLD_SIZE"])
        num_nodes = int(os.environ["WORLD_SIZE"]) // devices
    return devices, num_nodes


_RENDEZVOUS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def launched() -> bool:
    """Whether a launcher (torchrun, or one that sets the same) started this process as one rank of several: the
    ranks can meet (``env://``). A ``LOCAL_RANK`` alone, as an in-process Trainer leaves behind, is not that."""
    return all(k in os.environ for k in _RENDEZVOUS) and int(os.environ["WORLD_SIZE"]) > 1


def server_device_groups(trainer_cfg, gpus: int) -> list[list[str]]:
    """The GPUs of each server this process starts (``backend=vllm``), as ``CUDA_VISIBLE_DEVICES`` names them: under
    a launcher, this rank's replica (``LOCAL_RANK``'s ``trainer.gpus_per_replica`` GPUs); alone, one group of
    ``gpus_per_replica`` per ``trainer.devices``. An empty group is a server on the CPU (``gpus`` 0, or
    ``trainer.accelerator=cpu``): one per rank, or ``trainer.devices`` of them (a count) in a single process."""
    devices, k = trainer_cfg.devices, int(trainer_cfg.gpus_per_replica)
    if trainer_cfg.accelerator == "cpu" or gpus == 0:
        count = devices if isinstance(devices, int) and devices > 0 and not launched() else 1
        return [[] for _ in range(count)]
    visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    visible = visible or [str(i) for i in range(gpus)]
    if launched():
        local = int(os.environ.get("LOCAL_RANK", 0))
        return [visible[local * k : (local + 1) * k]]
    if devices in ("auto", -1):
        chosen = visible
    elif isinstance(devices, int):
        chosen = visible[:devices]
    else:
        chosen = [visible[int(i)] for i in devices]
    return [chosen[i : i + k] for i in range(0, len(chosen) - k + 1, k)]


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's total)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpus_per_rank() -> int:
    """The CPUs this process may run on, shared among this node's ranks (torchrun's ``LOCAL_WORLD_SIZE``)."""
    return max(1, cpu_count() // int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
