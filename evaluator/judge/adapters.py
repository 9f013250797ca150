"""LoRA adapters on a judge (``model.adapter``): EditScore's, PVC-Judge's, or any PEFT LoRA folder or hub id.

The adapter is merged into the base weights once (PEFT's ``merge_and_unload``, as EditScore's own scorer does) and
the merged judge (weights, tokenizer, processor) is kept in ``$EVALUATOR_CACHE/merged/``, under a key made of both
checkpoints' contents (every file's bytes, see ``evaluator.runtime.hashing``) and the dtype. Every later run, every
rank and both local backends (transformers and vLLM) then load a plain checkpoint at full speed, and a base or an
adapter whose files changed is merged afresh, never mistaken for the old one. The scores' fingerprint covers the
adapter's files too (``adapter_digest``), so a changed adapter's scores are never reused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
from pathlib import Path

from evaluator.config.hub import check_fetchable
from evaluator.judge import qwen_vl
from evaluator.runtime.errors import ConfigError, JudgeUnavailable, first_line
from evaluator.runtime.hashing import folder_digest
from evaluator.runtime.tiny import build_once, cache_root

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
MERGED_FROM = "merged-from.json"


# What a merge reads of a hub base: config, safetensors weights, tokenizer, processor and chat template (a repository's
# other weight formats are not fetched).
_BASE_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken"]


def _folder(name_or_path: str, revision: str | None, local_files_only: bool, setting: str, files=None) -> Path:
    """A folder holding a checkpoint: a tiny judge (built first), a local folder as it is, or a hub id's snapshot
    (fetched once into the Hugging Face cache, as ``from_pretrained`` would; ``files``: only those patterns)."""
    if name_or_path.startswith("tiny:"):
        return Path(qwen_vl.TINY_JUDGES.resolve(name_or_path))
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name_or_path, revision=revision, local_files_only=local_files_only,
                                      allow_patterns=files))  # fmt: skip
    except Exception as e:  # huggingface_hub's many errors (offline, not found, gated) all end the run the same way
        raise JudgeUnavailable(f"cannot fetch {setting}={name_or_path} ({first_line(e)})") from None


def check_adapter(model_cfg) -> None:
    """Before anything loads: ``model.adapter`` is a PEFT adapter folder (or a hub id that can be had), and PEFT is
    installed.

    Raises:
        ConfigError: saying what to change.
    """
    if not model_cfg.get("adapter"):
        return
    import importlib.util

    name = str(model_cfg.adapter)
    if importlib.util.find_spec("peft") is None:
        raise ConfigError(f"model.adapter={name} needs PEFT to merge it: pip install 'evaluator[adapters]'")
    path = Path(name).expanduser()
    if not path.exists() and name.startswith(("/", ".", "~")):  # a path, not a hub id
        raise ConfigError(f"model.adapter={name}: no such folder")
    if not path.exists():
        check_fetchable(name, "model.adapter", ADAPTER_CONFIG, local_only=model_cfg.local_files_only)
    elif not (path / ADAPTER_CONFIG).is_file():
        raise ConfigError(f"model.adapter={path} is not a PEFT adapter folder (it has no {ADAPTER_CONFIG})")


def adapter_folder(model_cfg) -> Path:
    """The folder of ``model.adapter`` (a hub id is fetched first)."""
    return _folder(str(model_cfg.adapter), model_cfg.adapter_revision, model_cfg.local_files_only, "model.adapter")


def adapter_digest(model_cfg) -> str | None:
    """SHA-256 over the adapter's files, for the scores' fingerprint; None without an adapter."""
    if not model_cfg.get("adapter"):
        return None
    return folder_digest(adapter_folder(model_cfg), cache_root())


def checkpoint_folder(model_cfg) -> str:
    """What ``from_pretrained`` (or a vLLM server) loads for ``model_cfg``: ``model.name_or_path`` itself (a tiny
    judge built first), or with ``model.adapter`` the merged judge in the cache, merged now if it is not there."""
    if not model_cfg.get("adapter"):
        return qwen_vl.TINY_JUDGES.resolve(model_cfg.name_or_path)
    base = _folder(model_cfg.name_or_path, model_cfg.revision, model_cfg.local_files_only, "model.name_or_path",
                   _BASE_FILES)  # fmt: skip
    adapter = adapter_folder(model_cfg)
    _warn_if_other_base(adapter, model_cfg.name_or_path, base)
    key = [folder_digest(base, cache_root()), folder_digest(adapter, cache_root()), model_cfg.dtype]
    name = re.sub(r"[^\w.-]+", "_", "_".join(Path(str(model_cfg.adapter)).parts[-2:])).strip("._")[-60:] or "adapter"
    target = cache_root() / "merged" / f"{name}-{hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]}"
    spec = {"base": str(base), "adapter": str(adapter), "dtype": model_cfg.dtype,
            "trust_remote_code": bool(model_cfg.trust_remote_code), "digests": key[:2]}  # fmt: skip
    start = time.perf_counter()
    try:
        built = build_once(target, merge_adapter, spec, MERGED_FROM)
    except (ValueError, KeyError, RuntimeError, OSError) as e:  # an adapter for another architecture, a bad file
        raise JudgeUnavailable(f"cannot merge model.adapter={model_cfg.adapter} into {base}: {first_line(e)}") from None
    if built:
        log.info("merged the adapter %s into %s in %.0f s; kept in %s", model_cfg.adapter, model_cfg.name_or_path,
                 time.perf_counter() - start, target)  # fmt: skip
    return str(target)


@functools.cache  # once per process, though the processor and the weights both ask
def _warn_if_other_base(adapter: Path, base: str, base_folder: Path) -> None:
    """An adapter names the base it was trained on; another base gives other scores (a local copy of the same
    base is fine, so this only warns)."""
    try:
        named = json.loads((adapter / ADAPTER_CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError):
        return
    if named and named not in (base, str(base_folder)) and Path(str(named)).name != Path(base).name:
        log.warning("model.adapter was trained on %s; it is merged into model.name_or_path=%s", named, base)


def merge_adapter(spec: dict, folder: Path) -> None:
    """Write the base judge with the adapter merged into its weights, and the base's processor, into ``folder``.
    A module-level function: ``build_once`` may run it in a spawned process."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    common = {"trust_remote_code": spec["trust_remote_code"]}
    model = AutoModelForImageTextToText.from_pretrained(spec["base"], dtype=getattr(torch, spec["dtype"]), **common)
    merged = PeftModel.from_pretrained(model, spec["adapter"]).merge_and_unload()
    merged.save_pretrained(folder)
    AutoProcessor.from_pretrained(spec["base"], **common).save_pretrained(folder)
    (folder / MERGED_FROM).write_text(json.dumps(spec, indent=1), encoding="utf-8")
