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
