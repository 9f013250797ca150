"""Tiny random judges for offline tests and smoke runs.

A tiny judge is a real checkpoint folder (config, safetensors weights, tokenizer, processor and chat template)
written once into a cache directory and then loaded through the same ``from_pretrained`` path as a real judge.
``model.name_or_path: tiny:qwen3_vl`` (or ``tiny:qwen3_vl_moe``) selects one; its scores are noise.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
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


def resolve(name_or_path: str) -> str:
    """Return a loadable checkpoint for ``name_or_path``, building a tiny judge first if it names one."""
    if not name_or_path.startswith(PREFIX):
        return name_or_path
    name = name_or_path[len(PREFIX) :]
    if name not in qwen_vl.TINY_SPECS:
        raise ConfigError(
            f"unknown tiny judge {name!r}; model.name_or_path=tiny:<name> takes one of {sorted(qwen_vl.TINY_SPECS)}"
        )
    return str(ensure_built(name))


def ensure_built(name: str, root: Path | None = None) -> Path:
    """Build the tiny judge ``name`` into the cache unless it is there; safe when several ranks race.

    One process builds (the others wait on a lock file), into a temporary folder that is renamed into place
    whole, so no process ever sees half a checkpoint.
    """
    spec = qwen_vl.TINY_SPECS[name]
    digest = hashlib.sha256(json.dumps([_BUILDER_VERSION, spec], sort_keys=True).encode()).hexdigest()[:12]
    root = root or cache_root()
    target = root / f"tiny-{name}-{digest}"
    if (target / "config.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if (target / "config.json").exists():
            return target  # another rank built it while this one waited
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
        try:
            qwen_vl.build_tiny(spec, tmp)
            shutil.rmtree(target, ignore_errors=True)  # a folder without config.json is no checkpoint
            os.rename(tmp, target)
            log.info("built tiny judge %s in %s", name, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
