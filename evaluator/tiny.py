"""Tiny random judges and editors for offline tests and smoke runs.

A tiny judge (editor) is a real checkpoint folder (config, safetensors weights, tokenizer, processor and chat
template; for an editor, a diffusers pipeline folder) written once into a cache directory and then loaded through
the same ``from_pretrained`` path as a real one. ``model.name_or_path: tiny:qwen3_vl`` (or ``tiny:qwen3_vl_moe``)
selects a judge, ``editor.name_or_path: tiny:instruct_pix2pix`` an editor; their outputs are noise.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

from evaluator import qwen_vl
from evaluator.errors import ConfigError

log = logging.getLogger(__name__)

PREFIX = "tiny:"

# Bump when the builder changes what it writes, so stale cached judges are rebuilt.
_BUILDER_VERSION = 2


def cache_root() -> Path:
    """Folder that holds built tiny judges: ``$EVALUATOR_CACHE`` or ``~/.cache/evaluator``."""
    return Path(os.environ.get("EVALUATOR_CACHE", Path.home() / ".cache" / "evaluator")).expanduser()


def _kind(kind: str) -> tuple:
    """What a tiny model of ``kind`` (judge or editor) is built from: its specs by name, and the function that
    writes one."""
    if kind == "judge":
        return qwen_vl.TINY_SPECS, qwen_vl.build_tiny
    from evaluator import diffusion

    return diffusion.TINY_EDITORS, diffusion.build_tiny


def _build_apart(build, spec: dict, folder: Path) -> None:
    """``build(spec, folder)``, in a fresh process when a process group is up: transformers' ``save_pretrained``
    then writes weights on the group's rank 0 only, and the rank that builds may be any (seen under torchrun)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        build(spec, folder)
        return
    process = multiprocessing.get_context("spawn").Process(target=build, args=(spec, folder))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"building a tiny model into {folder} failed (exit code {process.exitcode})")


def resolve(name_or_path: str, kind: str = "judge") -> str:
    """Return a loadable checkpoint for ``name_or_path``, building a tiny judge (or editor) first if it names one."""
    if not name_or_path.startswith(PREFIX):
        return name_or_path
    name = name_or_path[len(PREFIX) :]
    specs, _ = _kind(kind)
    if name not in specs:
        key = "model" if kind == "judge" else "editor"
        raise ConfigError(f"unknown tiny {kind} {name!r}; {key}.name_or_path=tiny:<name> takes one of {sorted(specs)}")
    return str(ensure_built(name, kind=kind))


def ensure_built(name: str, root: Path | None = None, kind: str = "judge") -> Path:
    """Build the tiny judge (or editor) ``name`` into the cache unless it is there; safe when several ranks race.

    One process builds (the others wait on a lock file), into a temporary folder that is renamed into place
    whole, so no process ever sees half a checkpoint.
    """
    specs, build = _kind(kind)
    spec = specs[name]
    digest = hashlib.sha256(json.dumps([_BUILDER_VERSION, spec], sort_keys=True).encode()).hexdigest()[:12]
    root = root or cache_root()
    target = root / (f"tiny-{name}-{digest}" if kind == "judge" else f"tiny-{kind}-{name}-{digest}")
    done = "config.json" if kind == "judge" else "model_index.json"
    if (target / done).exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if (target / done).exists():
            return target  # another rank built it while this one waited
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
        try:
            _build_apart(build, spec, tmp)
            if not any(tmp.rglob("*.safetensors")):
                raise RuntimeError(f"building the tiny {kind} {name} wrote no weights into {tmp}")
            shutil.rmtree(target, ignore_errors=True)  # a folder without its index file is no checkpoint
            os.rename(tmp, target)
            log.info("built tiny %s %s in %s", kind, name, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
