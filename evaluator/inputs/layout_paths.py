"""The paths a benchmark's layout builds from its data: kept inside their folders, and its outputs found or missing."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from PIL import Image

from evaluator.inputs.samples import Loaded, Sample


def inside_root(path: Path, root: Path, what: str) -> Path:
    """``path`` resolved, if it stays inside ``root``; a key such as ``../x`` or ``/etc/x`` must not lead out.

    Raises:
        ValueError: saying which path leaves which root.
    """
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ValueError(f"{what} {resolved} would lie outside {root}")
    return resolved


def plain_name(name: str, what: str) -> None:
    """Raises: ValueError where ``name`` is not one plain path component (a metadata field that names a folder or
    file must not climb out of it: ``../../victim/fullset/color_alter``)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"{what} {name!r} is not a plain file or folder name")


def split_missing(samples: list[Sample]) -> Loaded:
    """The samples whose edited image exists, and apart those whose edit is missing."""
    present = [s for s in samples if Path(s.edited).is_file()]
    return Loaded(present, [], [s for s in samples if not Path(s.edited).is_file()])


def embedded_image(value, folder: Path, name: str) -> str:
    """A path for a dataset's image cell ({bytes, path} or a path); embedded bytes are written out once, inside
    ``folder`` (a name that would lead out of it is refused)."""
    if isinstance(value, str):
        return value
    if value.get("bytes") is None:
        return value["path"]
    data = value["bytes"]
    try:
        with Image.open(io.BytesIO(data)) as im:
            ext = (im.format or "png").lower().replace("jpeg", "jpg")
    except (OSError, Image.DecompressionBombError):  # the pre-flight check says what is wrong with it, per row
        ext = "img"
    # Named by content too: two rows sharing a key (a picture's English and Chinese rows) share a file only if
    # their images are the same bytes.
    digest = hashlib.sha256(data).hexdigest()[:12]
    target = inside_root(folder / f"{name}-{digest}.{ext}", folder, "embedded source image")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # ranks may race here; every one writes the same bytes
    return str(target)
