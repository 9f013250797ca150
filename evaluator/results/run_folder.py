"""The output folder: its default name, which data it holds, and one run at a time in it.

``out_dir/run.json`` records the data a folder's results are of (written before anything is scored), so a run of
other data into the same folder is refused instead of mixing two editors' scores. ``out_dir/.lock`` (host and
pid) is held by global rank 0 while a run is in the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import time
from pathlib import Path

from evaluator.results.writing import atomic_write, slug
from evaluator.runtime.errors import ConfigError
from evaluator.runtime.textfiles import read_text_file

log = logging.getLogger(__name__)

IDENTITY = "run.json"
LOCK = ".lock"
# The keys of a data config that say which data it is (the rest says how to read or batch it).
_DATA_KEYS = ("layout", "path", "root", "metadata", "results_root", "model_name", "language", "sources", "edits",
              "images", "outputs", "gallery", "candidates")  # fmt: skip
_PATH_KEYS = ("path", "root", "metadata", "results_root", "sources", "edits", "images", "outputs", "gallery",
              "candidates")  # fmt: skip


def data_name(data, assets: Path) -> str:
    """A folder name for the data: the demo's, the edited model's for GEdit-Bench, else the input's folder and file
    name with a short hash of its full path (two editors' manifests are often both ``pairs.jsonl``)."""
    if data.layout == "gedit":
        return f"gedit-{slug(data.model_name)}" + ("" if data.language == "all" else f"-{slug(data.language)}")
    if data.layout == "geditv2":  # the gallery, and a hash of its full path and the editors compared
        gallery = Path(str(data.gallery)).expanduser().resolve()
        digest = hashlib.sha256(json.dumps([str(gallery), sorted(map(str, data.editors))]).encode()).hexdigest()[:8]
        return f"geditv2-{slug(gallery.name)}-{digest}"
    if data.layout == "arena":  # the editors by name, and a hash of their manifests' full paths
        editors = {k: str(Path(str(v)).expanduser().resolve()) for k, v in sorted(data.editors.items())}
        digest = hashlib.sha256(json.dumps(editors).encode()).hexdigest()[:8]
        return f"arena-{slug('-'.join(editors))[:60]}-{digest}"
    where = Path(str(_edits_folder(data) or data.path)).expanduser().resolve()
    if where.is_relative_to(assets):
        return where.parent.name  # a data set shipped in the package, e.g. "demo"
    digest = hashlib.sha256(str(where).encode()).hexdigest()[:8]
    return f"{data.layout}-{slug(where.parent.name)}-{slug(where.stem)}-{digest}"


def judge_name(backend: str, api_model, preset: str) -> str:
    """The model preset's name (``qwen3_vl_8b``; ``qwen3_vl_8b-vllm`` on vLLM servers, whose scores are kept apart
    from transformers'), or with ``backend=api`` the server's model name (``api-gpt-4.1``)."""
    if backend == "vllm":
        return f"{preset}-vllm"
    if backend != "api":
        return preset
    return "api-" + (re.sub(r"[^\w.-]+", "_", str(api_model)).strip("._") or "model")


# Overrides of these change the scores (see resume.fingerprint); the default out_dir is told apart by them.
_SCORE_KEYS = (
    "model.",
    "judge.",
    "seed",
    "data.max_pixels",
    "data.max_side",
    "data.resize_edited",
    "data.exif_transpose",
    "data.max_image_pixels",
    "data.min_image_side",
    "api.base_url",
    "api.model",
    "api.max_tokens",
    "api.image_format",
)


def settings_tag(mode: str, overrides) -> str:
    """The default out_dir's last part after ``<judge>-<scheme>``: ``-logits`` in logit mode, then a short hash of
    the command line's overrides that change scores (``seed=1``, ``judge.system=...``), so that runs of different
    settings never replace each other's results; nothing for the presets as they are. ``overrides``: None inside
    a Hydra app (its own record of them is read)."""
    if overrides is None:
        from hydra.core.hydra_config import HydraConfig

        overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    changed = sorted(
        {o.lstrip("+~") for o in overrides if o.lstrip("+~").startswith(_SCORE_KEYS)}
        - {o for o in overrides if o.startswith("judge.mode=")}
    )
    tag = "-logits" if mode == "logits" else ""
    return tag + (f"-{hashlib.sha256(chr(10).join(changed).encode()).hexdigest()[:6]}" if changed else "")


def edit_dir(data, editor: str, assets: Path) -> str:
    """The editing stage's default folder: the benchmark's own results folder for its layout, else
    ``outputs/<data>/edits-<editor>``."""
    return _edits_folder(data) or f"outputs/{data_name(data, assets)}/edits-{slug(editor)}"


def _edits_folder(data) -> str | None:
    """A benchmark layout's folder of one editor's edits; None for a manifest or pairs file."""
    if data.layout == "gedit":
        return str(Path(str(data.results_root)) / str(data.model_name))
    if data.layout == "geditv2":  # the editing stage's one editor's gallery folder
        return str(Path(str(data.gallery)) / str(data.editors[0])) if len(data.editors) == 1 else None
    return {"imgedit": data.get("edits"), "risebench": data.get("outputs"), "krisbench": data.get("outputs")}.get(
        data.layout
    )


def edited_data_name(data, edits: str, assets: Path) -> str:
    """``data_name`` of the data the judge reads after the editing stage: the new manifest in ``edits`` for a
    manifest, the benchmark's layout (where the edits were written) otherwise."""
    if data.layout != "manifest":
        return data_name(data, assets)
    from omegaconf import OmegaConf

    return data_name(OmegaConf.create({"layout": "manifest", "path": str(Path(edits) / "manifest.jsonl")}), assets)


def identity(data) -> dict:
    """Which data a run scores, with every path made absolute."""
    out = {}
    for key in _DATA_KEYS:
        value = data.get(key)
        if value is not None and key in _PATH_KEYS:
            value = str(Path(str(value)).expanduser().resolve())
        if value is not None:
            out[key] = value
    if data.layout == "geditv2":  # which editors it compares is which data it scores
        out["editors"] = sorted(map(str, data.editors))
    return out


def claim(out_dir: Path, data, resume: bool, editor: str | None = None) -> None:
    """Make ``out_dir`` this data's folder: refuse one that holds other data's results unless ``resume=false``,
    record the data, and remove temporary files a killed run left. The editing stage passes its ``editor``
    fingerprint: a folder of edits is refused to a judge, to another stage and to other editor settings alike.

    Raises:
        ConfigError: the folder holds the results of other data, or of another stage or editor.
    """
    mine, path = identity(data), out_dir / IDENTITY
    record = {"data": mine} if editor is None else {"data": mine, "editor": editor}
    if path.exists() and resume:
        theirs = _read_small_json(path)
        if isinstance(theirs, dict):
            _refuse_other(out_dir, theirs, record)
    atomic_write(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    for stale in out_dir.glob(".*.tmp-*"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _refuse_other(out_dir: Path, theirs: dict, mine: dict) -> None:
    if theirs.get("data") is not None and theirs.get("data") != mine["data"]:
        raise ConfigError(
            f"out_dir={out_dir} holds the results of other data ({_describe(theirs['data'])}); choose another "
            "out_dir, or resume=false to replace them"
        )
    if theirs.get("editor") == mine.get("editor"):
        return
    if mine.get("editor") is None:
        raise ConfigError(f"out_dir={out_dir} holds edits (python -m evaluator.edit); give the judge another out_dir")
    if theirs.get("editor") is None:
        raise ConfigError(f"out_dir={out_dir} holds a judge's results; give the edits another out_dir")
    raise ConfigError(
        f"out_dir={out_dir} holds edits made with other editor settings (its editor.yaml says which); choose another "
        "folder (for GEdit-Bench another data.model_name), or resume=false to replace them"
    )


def _describe(ident: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in ident.items() if k != "layout") or str(ident)


class Lock:
    """One run at a time in ``out_dir``: a lock file with host and pid, taken by global rank 0.

    A lock left by a process that no longer runs on this host is taken over with a warning.
    """

    def __init__(self, out_dir: Path):
        self.path = out_dir / LOCK
        self.held = False

    def acquire(self) -> None:
        """Raises: ConfigError naming the run that holds the folder."""
        me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and holder.get("host") == me["host"] and not _alive(_pid(holder.get("pid"))):
                    log.warning("taking over the lock of %s: pid %s on this host is gone", self.path, holder["pid"])
                    self.path.unlink(missing_ok=True)
                    continue
                who = f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}" if holder else "?"
                raise ConfigError(
                    f"out_dir={self.path.parent} is in use by another run ({who}); wait for it, or choose another "
                    f"out_dir (if that run is gone, delete {self.path})"
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def _holder(self) -> dict | None:
        """The lock's holder as written, or None where the file is unreadable or not a JSON object."""
        holder = _read_small_json(self.path)
        return holder if isinstance(holder, dict) else None


def _read_small_json(path: Path):
    """A small JSON file we wrote, or None where it is unreadable, not JSON, or not a small regular file (a FIFO
    there would block the run for ever)."""
    try:
        return json.loads(read_text_file(path, str(path.name), limit=1_000_000))
    except (ValueError, RecursionError):
        return None


def _pid(value) -> int:
    """A lock's pid as a number; 0 (no process) for anything that is not a plausible pid ("abc", 20 digits)."""
    try:
        pid = int(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    return pid if 0 < pid < 1 << 22 else 0


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True
