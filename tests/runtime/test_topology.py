"""Where a process sits: ranks and devices as the launchers set them."""

import pytest

from evaluator.runtime import topology


@pytest.mark.parametrize(
    ("env", "devices", "expected"),
    [
        ({}, "auto", ("auto", 1)),
        ({"TORCHELASTIC_RUN_ID": "x", "LOCAL_WORLD_SIZE": "3", "WORLD_SIZE": "6"}, "auto", (3, 2)),
        ({"TORCHELASTIC_RUN_ID": "x", "LOCAL_WORLD_SIZE": "3", "WORLD_SIZE": "3"}, [0, 1, 2], ([0, 1, 2], 1)),
    ],
)
def test_topology_follows_torchrun(monkeypatch, env, devices, expected):
    for key in ("TORCHELASTIC_RUN_ID", "LOCAL_WORLD_SIZE", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cfg = {"devices": devices, "num_nodes": 1}
    assert topology.topology(type("Cfg", (), cfg)) == expected


def test_env_rank(monkeypatch):
    for key in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "NODE_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    assert topology.env_rank() == 0
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("NODE_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert topology.env_rank() == 5
    monkeypatch.setenv("RANK", "3")
    assert topology.env_rank() == 3
