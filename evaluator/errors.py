"""Turning the errors a user can fix into one clear message and an exit code, instead of a traceback."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from evaluator.data import DataError
from evaluator.distributed import RankFailed
from evaluator.loading import JudgeUnavailable

log = logging.getLogger(__name__)

# Exit codes: 1 for a rank that stops because another failed (that one shows its traceback), 2 for bad input
# data, 3 for a judge that cannot be loaded.
EXIT_CODES = {RankFailed: 1, DataError: 2, JudgeUnavailable: 3}
RANK_FAILED_GRACE_S = 5


@contextmanager
def report_and_exit():
    """Log a user-fixable error as a plain message and exit with its code; let anything else propagate."""
    try:
        yield
    except tuple(EXIT_CODES) as e:
        log.error("%s", e)
        if isinstance(e, RankFailed):
            # Let the failing rank exit first, so the launcher names it as the root cause, not this one.
            time.sleep(RANK_FAILED_GRACE_S)
        raise SystemExit(next(code for cls, code in EXIT_CODES.items() if isinstance(e, cls))) from None
