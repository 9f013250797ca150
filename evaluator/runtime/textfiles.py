"""Reading a small text file a setting names (a prompt part's ``file:``, ``judge.official_source``) without trusting
what is there: only a regular file, opened so that a FIFO cannot block, and at most ``MAX_BYTES`` of it, so that
``/dev/zero`` or a 50 MB file of statements cannot take the memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_BYTES = 1_000_000  # the benchmarks' prompt files are tens of kilobytes


def read_text_file(path: str | Path, setting: str, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``.

    Raises:
        ValueError: naming ``setting`` and the path: missing, unreadable, not a regular file, too large, or not
            UTF-8 text.
    """
    path = Path(path).expanduser()
    data = read_head(path, setting, limit + 1)
    if len(data) > limit:
        raise ValueError(f"{setting}={path} is larger than {limit:,} bytes; a prompt file is text of a few kB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{setting}={path} is not UTF-8 text") from None


def read_head(path: str | Path, setting: str, size: int) -> bytes:
    """At most the first ``size`` bytes of the regular file ``path``.

    Raises:
        ValueError: naming ``setting`` and the path: missing, unreadable, or not a regular file.
    """
    path = Path(path).expanduser()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ValueError(f"{setting}={path} not found") from None
    except OSError as e:
        raise ValueError(f"{setting}={path} cannot be read ({e.strerror or e})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"{setting}={path} is not a regular file")
    with os.fdopen(fd, "rb") as f:
        return f.read(size)
