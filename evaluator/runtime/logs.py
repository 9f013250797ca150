"""Rank-aware logging: every line says which rank and device wrote it; each rank also keeps its own file.

``escape`` is the one way text from data or a model reaches a terminal or a log.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path

from tqdm.contrib.logging import logging_redirect_tqdm


def escape(text, table: bool = True) -> str:
    """User- or model-written text made safe for a terminal, a log line or a markdown table: control characters
    (ANSI escape sequences among them) are shown as escapes, not obeyed; for a table, pipes are escaped too."""
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in str(text))
    return text.replace("|", "\\|") if table else text


_FORMAT = "%(asctime)s %(levelname)s [%(where)s] %(name)s: %(message)s"


class RankFormatter(logging.Formatter):
    """Prefixes records with ``rank r/w device``; a formatter (not a filter) so tqdm's redirect keeps it."""

    where = "rank 0"
    rank = 0

    def format(self, record: logging.LogRecord) -> str:
        record.where = RankFormatter.where
        return super().format(record)


# ``log.info(..., extra=FILE_ONLY)``: a line for the rank's log file, not for the console.
FILE_ONLY = {"console": False}


def _console_filter(record: logging.LogRecord) -> bool:
    # The console shows rank 0's progress and every rank's warnings; each rank's file keeps all of its lines.
    if record.levelno >= logging.WARNING:
        return True
    return RankFormatter.rank == 0 and getattr(record, "console", True)


class _Stderr(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is at each line, not as it was when the handler was made: a later redirect
    (a test's capture, a notebook's) is followed, and a closed stream from before is never written to."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ and setStream assign it; sys.stderr stays the one
        pass


def setup(level: str = "INFO", rank: int = 0) -> None:
    """Send the ``evaluator`` loggers to stderr with the rank prefix (idempotent)."""
    RankFormatter.where, RankFormatter.rank = f"rank {rank}", rank
    logger = logging.getLogger("evaluator")
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    if not any(getattr(h, "_evaluator", False) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(RankFormatter(_FORMAT, datefmt="%H:%M:%S"))
        handler.addFilter(_console_filter)
        handler._evaluator = True
        logger.addHandler(handler)
        logger.propagate = False


def set_rank(rank: int, world_size: int, device) -> None:
    """Name this process in every later log line."""
    RankFormatter.where, RankFormatter.rank = f"rank {rank}/{world_size} {device}", rank


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


# What Lightning and PyTorch say that a scoring run has no use for: tips, hardware summaries, and warnings
# about situations this evaluator creates on purpose (idle ranks with nothing to score).
_QUIET_WARNINGS = (
    r".*across ranks is zero.*",
    r".*does not have many workers.*",
    r".*custom batch sampler.*for prediction.*",  # ours returns every index once (sampler.LengthBatches)
    r".*pytree.*",
    r".*overridden `transfer_batch_to_device`.*",  # the editor passes PIL images through untouched
    r".*`isinstance\(treespec, LeafSpec\)` is deprecated.*",
)


def quiet_libraries() -> None:
    """Keep Lightning's info lines and known-irrelevant warnings out of the console (they stay at DEBUG)."""
    import warnings

    level = logging.DEBUG if logging.getLogger("evaluator").level <= logging.DEBUG else logging.WARNING
    for name in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(level)
    for pattern in _QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
