"""The pre-flight's look at one image file, and what it learnt, kept so that a rerun reads no image.

A file is read once: its bytes are hashed (the SHA-256 content-keyed resume keys on) and decoded from memory as
cheaply as still proves them whole. A JPEG decodes at an eighth of its size (libjpeg still reads every byte of
the entropy-coded data, so a truncated file fails as it does in full); a PNG has every chunk's CRC checked
(Pillow's ``verify``: a truncated or altered file fails) without inflating its pixels; any other format decodes
in full. What is learnt (digest, size as stored, whether EXIF or XMP turns it, or why it does not decode) is kept
in an sqlite file (``Facts.store``) under the key of what identifies the bytes without reading them: path, size,
inode, device, and the modification and status-change times in nanoseconds (``touch -d`` can set the first back,
never the second). A changed key is a new file: checked again, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from evaluator.inputs.images import MAX_ASPECT, ImageLimits, orientation
from evaluator.inputs.samples import Kind

log = logging.getLogger(__name__)

SCHEMA = 1  # bump when what a check learns changes: older rows are then not read


@dataclass(frozen=True)
class Facts:
    """What one file is: ``digest`` (SHA-256 of its bytes) and ``size`` (width, height as stored) and ``turned``
    (its orientation swaps them); or the ``kind`` and ``reason`` it cannot be judged. ``pixels_checked`` is False
    where it was refused from its header as larger than ``max_pixels`` (a larger limit must look again)."""

    digest: str | None
    size: tuple[int, int]
    turned: bool = False
    kind: str | None = None
    reason: str | None = None
    pixels_checked: bool = True


def file_identity(path: str) -> tuple | None:
    """What identifies a file's bytes without reading them; None where there is no regular file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not os.path.isfile(path):
        return None
    return (os.path.abspath(path), st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns, st.st_ctime_ns)


def examine(path: str, max_pixels: int) -> Facts:
    """Read the file once, hash it, and decode it as cheaply as still proves it whole (see the module)."""
    data = Path(path).read_bytes()
    if not data:
        return Facts(None, (0, 0), kind=Kind.EMPTY.value, reason="is an empty file")
    try:
        with Image.open(io.BytesIO(data)) as im:
            size = im.size
            if size[0] * size[1] > max_pixels:
                return Facts(None, size, kind=Kind.TOO_LARGE.value, pixels_checked=False,
                             reason=f"{size[0]}x{size[1]} px")  # fmt: skip
            if im.format == "PNG":  # verify must come first; the orientation is read from a second opening
                im.verify()
                with Image.open(io.BytesIO(data)) as again:
                    turned = orientation(again) in (5, 6, 7, 8)
            else:
                turned = orientation(im) in (5, 6, 7, 8)
                if im.format == "JPEG":
                    im.draft("RGB", (max(1, size[0] // 8), max(1, size[1] // 8)))
                im.load()
    except Exception as e:  # Pillow raises many types for bad files; all mean the same here
        if type(e).__name__ == "UnidentifiedImageError":
            return Facts(None, (0, 0), kind=Kind.UNSUPPORTED.value, reason=f"{type(e).__name__}: {e}")
        return Facts(None, (0, 0), kind=Kind.UNDECODABLE.value, reason=f"{type(e).__name__}: {e}")
    return Facts(hashlib.sha256(data).hexdigest(), size, turned)


class FactsStore:
    """The kept facts: an sqlite file shared by runs and ranks (several may write at once); a folder that cannot
    hold it means no store, said once, and every file is examined."""

    def __init__(self, path: Path | None):
        self.db = None
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=60, check_same_thread=False)
            self.db.execute("pragma journal_mode=wal")
            self.db.execute(
                "create table if not exists facts (key text primary key, schema integer, digest text, width "
                "integer, height integer, turned integer, kind text, reason text, pixels_checked integer)"
            )
        except (OSError, sqlite3.Error) as e:
            log.warning("image checks are not kept (%s: %s); every image is read on every run", path, e)
            self.db = None

    def read(self, keys: list[tuple]) -> dict[tuple, Facts]:
        """The kept facts of those ``keys`` that have some."""
        if self.db is None or not keys:
            return {}
        found = {}
        wanted = {repr(k): k for k in keys}
        names = list(wanted)
        for i in range(0, len(names), 500):
            chunk = names[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"select * from facts where schema = {SCHEMA} and key in ({marks})", chunk)
            for key, _, digest, w, h, turned, kind, reason, checked in rows:
                found[wanted[key]] = Facts(digest, (w, h), bool(turned), kind, reason, bool(checked))
        return found

    def write(self, facts: dict[tuple, Facts]) -> None:
        if self.db is None or not facts:
            return
        rows = [(repr(k), SCHEMA, f.digest, *f.size, int(f.turned), f.kind, f.reason, int(f.pixels_checked))
                for k, f in facts.items()]  # fmt: skip
        try:
            with self.db:
                self.db.executemany("insert or replace into facts values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as e:
            log.warning("image checks could not be kept (%s); the next run reads the images again", e)

    def close(self) -> None:
        if self.db is not None:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()


def judged(
    facts: Facts | None, path: str, role: str, limits: ImageLimits, upright: bool = True
) -> tuple[tuple[int, int] | None, tuple[Kind, str] | None]:
    """A file's (width, height) as the judge will see it (upright, unless ``upright=False``), or why it cannot be
    used under ``limits``; ``facts`` None: there is no such file."""
    if facts is None:
        return None, (Kind.NOT_FOUND, f"{role} image not found: {path}")
    w, h = facts.size
    if facts.kind == Kind.EMPTY.value:
        return None, (Kind.EMPTY, f"{role} image is an empty file: {path}")
    if w * h > limits.max_pixels:
        return None, (Kind.TOO_LARGE, f"{role} image too large ({w}x{h} px; data.max_image_pixels="
                                      f"{limits.max_pixels}): {path}")  # fmt: skip
    if facts.kind == Kind.UNSUPPORTED.value:
        return None, (Kind.UNSUPPORTED, f"{role} image unsupported format ({facts.reason}): {path}")
    if facts.kind is not None:
        return None, (Kind.UNDECODABLE, f"{role} image does not decode ({facts.reason}): {path}")
    if min(w, h) < limits.min_side:
        return None, (Kind.TOO_SMALL, f"{role} image too small ({w}x{h} px; data.min_image_side={limits.min_side}): "
                                      f"{path}")  # fmt: skip
    if max(w, h) > MAX_ASPECT * min(w, h):
        return None, (Kind.ELONGATED, f"{role} image too elongated ({w}x{h} px; the judge takes at most "
                                      f"{MAX_ASPECT}:1): {path}")  # fmt: skip
    return ((h, w) if upright and facts.turned else (w, h)), None
