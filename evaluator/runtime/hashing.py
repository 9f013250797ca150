"""Content hashes: of one file, and of a checkpoint folder (every file's bytes), for resume keys and fingerprints.

A checkpoint is keyed on its bytes, not its path: weights saved again into the same folder are another judge or
editor. Hashing tens of gigabytes takes a while, so each file's digest is kept in a small cache
(``$EVALUATOR_CACHE/file-digests.json``) under the file's identity: device, inode, size, modification time and
status-change time. The status-change time is set by the kernel on every write and cannot be set back by a user,
so a file rewritten in place, even with its old modification time restored, is hashed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_FILE = "file-digests.json"
MAX_ENTRIES = 20_000
_CHUNK = 1 << 22


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _identity(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"


def folder_digest(folder: str | Path, cache_dir: Path | None = None) -> str:
    """SHA-256 over every file under ``folder``: each one's relative path and the SHA-256 of its bytes.

    Digests of unchanged files come from the cache in ``cache_dir`` (none: every file is read); files are hashed
    in parallel (hashlib releases the GIL), and the cache is rewritten atomically, so concurrent runs at worst
    hash a file twice.
    """
    folder = Path(folder)
    files = sorted(f for f in folder.rglob("*") if f.is_file())
    cache = _read_cache(cache_dir)
    digests: dict[Path, str] = {}
    todo = []
    for f in files:
        key = f"{f.resolve()}|{_identity(f.stat())}"
        if key in cache:
            digests[f] = cache[key]
        else:
            todo.append((f, key))
    if todo:
        size = sum(f.stat().st_size for f, _ in todo)
        if size > 1 << 30:
            log.info("hashing %d file(s) of %s (%.1f GB) once, to key results on the checkpoint's content",
                     len(todo), folder, size / 1e9)  # fmt: skip
        with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
            for (f, key), digest in zip(todo, pool.map(lambda t: file_digest(t[0]), todo), strict=True):
                digests[f] = cache[key] = digest
        _write_cache(cache_dir, cache)
    listing = [(str(f.relative_to(folder)), digests[f]) for f in files]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def checkpoint_digest(name_or_path) -> str | None:
    """``folder_digest`` of a local checkpoint folder (cached under ``$EVALUATOR_CACHE``); None for a hub id, whose
    revision keys it, or a tiny model, which is built the same every time."""
    path = Path(str(name_or_path)).expanduser()
    if not path.is_dir():
        return None
    from evaluator.runtime.errors import ConfigError
    from evaluator.runtime.tiny import cache_root

    try:
        return folder_digest(path, cache_root())
    except OSError as e:
        raise ConfigError(f"cannot read the checkpoint {path} to key results on it: {e}") from None


def _read_cache(cache_dir: Path | None) -> dict[str, str]:
    if cache_dir is None:
        return {}
    from evaluator.runtime.textfiles import read_text_file

    try:
        data = json.loads(read_text_file(cache_dir / CACHE_FILE, CACHE_FILE, limit=64_000_000))
    except (ValueError, RecursionError):  # missing, not a regular file, too large or not JSON: start afresh
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _write_cache(cache_dir: Path | None, cache: dict[str, str]) -> None:
    """Best effort: a cache that cannot be written costs time on the next run, never a wrong key."""
    if cache_dir is None:
        return
    path = cache_dir / CACHE_FILE
    tmp = path.with_name(f".{CACHE_FILE}.tmp-{os.getpid()}")
    cache = dict(list(cache.items())[-MAX_ENTRIES:])  # the newest: files saved again leave old identities behind
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        log.debug("digest cache not written (%s)", e)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
