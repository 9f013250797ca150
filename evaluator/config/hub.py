"""Whether a hub checkpoint can be had, asked once and quickly before anything loads.

Without a network, ``from_pretrained`` of a hub id retries each file five times with growing waits: three minutes
and 66 lines of warnings before the one useful line. One request with a short timeout answers first: a checkpoint
in the local Hugging Face cache is then used offline (``HF_HUB_OFFLINE=1`` for this run), and one that is not
there stops the run in one line saying how to get it. Nothing here imports huggingface_hub: its settings are read
from the environment when it is imported, after this has set them.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from evaluator.runtime.errors import JudgeUnavailable

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 5.0
_TRUE = ("1", "true", "yes", "on")


def _cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    return Path(home).expanduser() / "hub"


def in_cache(repo_id: str, index_file: str) -> bool:
    """Whether a snapshot of ``repo_id`` with ``index_file`` (config.json, model_index.json) is in the cache."""
    snapshots = _cache_dir() / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    return any((s / index_file).is_file() for s in snapshots.glob("*")) if snapshots.is_dir() else False


def reachable() -> str | None:
    """None if the hub answers at all (any HTTP status), else why not, in words."""
    return _probe(os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/"))


@functools.cache  # once per process and endpoint: the config is checked again when the run starts
def _probe(endpoint: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    try:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/api/models", method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return f"{endpoint} cannot be reached: {getattr(reason, 'strerror', None) or reason}"
    return None


def check_fetchable(name_or_path: str, setting: str, index_file: str = "config.json", local_only=False) -> None:
    """Before anything loads: a hub id either is in the cache, or the hub answers (``local_only``: not asked).

    Raises:
        JudgeUnavailable: neither; the message says how to get the checkpoint.
    """
    if name_or_path.startswith("tiny:") or Path(name_or_path).expanduser().exists() or local_only:
        return
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE:
        return  # loading from the cache alone, as asked; a miss is said by the loader at once
    why = reachable()
    if why is None:
        return
    if in_cache(name_or_path, index_file):
        os.environ["HF_HUB_OFFLINE"] = "1"  # read by huggingface_hub when it is imported, and by every rank started
        if "huggingface_hub.constants" in sys.modules:  # already imported (from Python): tell it too
            sys.modules["huggingface_hub.constants"].HF_HUB_OFFLINE = True
        log.info("%s; using the cached copy of %s (HF_HUB_OFFLINE=1 for this run)", why, name_or_path)
        return
    raise JudgeUnavailable(
        f"{setting}={name_or_path} is not in the Hugging Face cache ({_cache_dir()}) and {why}. Download it where "
        f"there is a network (hf download {name_or_path}) and copy the cache here, or give {setting} a local "
        "folder; HF_HUB_OFFLINE=1 uses the cache alone"
    )
