"""The paths a benchmark's layout builds from its data: kept inside their folders, and its outputs found or missing."""

from __future__ import annotations

from pathlib import Path

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
