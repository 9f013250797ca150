"""Tiny random judges and editors for offline tests and smoke runs.

A tiny judge (editor) is a real checkpoint folder (config, safetensors weights, tokenizer, processor and chat
template; for an editor, a diffusers pipeline folder) written once into a cache directory and then loaded through
the same ``from_pretrained`` path as a real one. ``model.name_or_path: tiny:qwen3_vl`` (or ``tiny:qwen3_vl_moe``)
selects a judge, ``editor.name_or_path: tiny:instruct_pix2pix`` an editor; their outputs are noise. The judges'
shapes and builder live in ``evaluator.judge.qwen_vl`` (``TINY_JUDGES``), the editors' in ``evaluator.edit.diffusion``
(``TINY_EDITORS``); this module only caches them. ``build_once`` also keeps other built checkpoints in the cache (a
judge with its LoRA adapter merged: ``evaluator.judge.adapters``).
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evaluator.runtime.errors import ConfigError

log = logging.getLogger(__name__)

PREFIX = "tiny:"

# Bump when the builder changes what it writes, so stale cached judges are rebuilt.
_BUILDER_VERSION = 2


def cache_root() -> Path:
    """Folder that holds built tiny judges: ``$EVALUATOR_CACHE`` or ``~/.cache/evaluator``."""
    return Path(os.environ.get("EVALUATOR_CACHE", Path.home() / ".cache" / "evaluator")).expanduser()


def _build_apart(build, spec: dict, folder: Path) -> None:
    """``build(spec, folder)``, in a fresh process when a process group is up: transformers' ``save_pretrained``
    then writes weights on the group's rank 0 only, and the rank that builds may be any (seen under torchrun)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        build(spec, folder)
        return
    process = multiprocessing.get_context("spawn").Process(target=_build_in_child, args=(build, spec, folder))
    process.start()
    process.join()
    if process.exitcode != 0:
        why = folder / _BUILD_ERROR
        raise RuntimeError(why.read_text(encoding="utf-8") if why.is_file() else f"exit code {process.exitcode}")


_BUILD_ERROR = ".build-error"


def _build_in_child(build, spec: dict, folder: Path) -> None:
    """``build`` in a spawned process; its error's first line is left in the folder for the parent to say."""
    try:
        build(spec, folder)
    except Exception as e:  # any builder's error: the parent raises it as one line
        (folder / _BUILD_ERROR).write_text(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        raise SystemExit(1) from None


def build_once(target: Path, build: Callable[[dict, Path], None], spec: dict, index_file: str) -> bool:
    """Have ``build(spec, folder)`` write the checkpoint ``target`` (a folder in the cache) unless it holds
    ``index_file`` already; safe when several ranks race. Returns whether this process built it.

    One process builds (the others wait on a lock file), into a temporary folder that is renamed into place whole,
    so no process ever sees half a checkpoint. ``build`` must be a module-level function: it may run in a spawned
    process (see ``_build_apart``).
    """
    if (target / index_file).exists():
        return False
    root = target.parent
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if (target / index_file).exists():
            return False  # another rank built it while this one waited
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
        try:
            _build_apart(build, spec, tmp)
            if not any(tmp.rglob("*.safetensors")):
                raise RuntimeError(f"building {target.name} wrote no weights into {tmp}")
            shutil.rmtree(target, ignore_errors=True)  # a folder without its index file is no checkpoint
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return True


@dataclass(frozen=True)
class TinyModels:
    """One family of tiny models: judges (``model.name_or_path: tiny:<name>``) or editors (``editor.name_or_path``).

    ``build(spec, folder)`` writes one checkpoint; it must be a module-level function, as it may run in a spawned
    process. ``index_file`` is the file a finished checkpoint folder holds.
    """

    kind: str
    key: str
    specs: dict[str, dict]
    build: Callable[[dict, Path], None]
    index_file: str

    def resolve(self, name_or_path: str) -> str:
        """A loadable checkpoint for ``name_or_path``, building the tiny model first if it names one."""
        if not name_or_path.startswith(PREFIX):
            return name_or_path
        name = name_or_path[len(PREFIX) :]
        if name not in self.specs:
            raise ConfigError(
                f"unknown tiny {self.kind} {name!r}; {self.key}.name_or_path=tiny:<name> takes one of "
                f"{sorted(self.specs)}"
            )
        return str(self.ensure_built(name))

    def ensure_built(self, name: str, root: Path | None = None) -> Path:
        """Build the tiny model ``name`` into the cache unless it is there (``build_once``)."""
        spec = self.specs[name]
        digest = hashlib.sha256(json.dumps([_BUILDER_VERSION, spec], sort_keys=True).encode()).hexdigest()[:12]
        prefix = "tiny" if self.kind == "judge" else f"tiny-{self.kind}"
        target = (root or cache_root()) / f"{prefix}-{name}-{digest}"
        if build_once(target, self.build, spec, self.index_file):
            log.info("built tiny %s %s in %s", self.kind, name, target)
        return target
