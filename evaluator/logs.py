"""Rank-aware logging: every line says which rank and device wrote it; each rank also keeps its own file."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path

from tqdm.contrib.logging import logging_redirect_tqdm

_FORMAT = "%(asctime)s %(levelname)s [%(where)s] %(name)s: %(message)s"


class RankFormatter(logging.Formatter):
    """Prefixes records with ``rank r/w device``; a formatter (not a filter) so tqdm's redirect keeps it."""

    where = "rank 0"

    def format(self, record: logging.LogRecord) -> str:
        record.where = RankFormatter.where
        return super().format(record)


def setup(level: str = "INFO", rank: int = 0) -> None:
    """Send the ``evaluator`` loggers to stderr with the rank prefix (idempotent)."""
    RankFormatter.where = f"rank {rank}"
    logger = logging.getLogger("evaluator")
    logger.setLevel(level)
    if not any(getattr(h, "_evaluator", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(RankFormatter(_FORMAT, datefmt="%H:%M:%S"))
        handler._evaluator = True
        logger.addHandler(handler)
        logger.propagate = False


def set_rank(rank: int, world_size: int, device) -> None:
    """Name this process in every later log line."""
    RankFormatter.where = f"rank {rank}/{world_size} {device}"


def add_file(path: Path) -> None:
    """Also write the ``evaluator`` logs to ``path`` (one file per rank, so ranks never share a file)."""
    logger = logging.getLogger("evaluator")
    for old in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:  # an earlier run's file
        logger.removeHandler(old)
        old.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setFormatter(RankFormatter(_FORMAT, datefmt="%H:%M:%S"))
    logger.addHandler(handler)


@contextmanager
def around_progress_bar():
    """Print log lines above rank 0's progress bar instead of through it."""
    with logging_redirect_tqdm(loggers=[logging.getLogger("evaluator")]):
        yield
