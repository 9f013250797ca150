"""Turning the errors a user can fix into one clear message and an exit code, instead of a traceback."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from evaluator.data import DataError
from evaluator.loading import JudgeUnavailable

log = logging.getLogger(__name__)

# Exit codes: 2 for bad input data, 3 for a judge that cannot be loaded.
EXIT_CODES = {DataError: 2, JudgeUnavailable: 3}


@contextmanager
def report_and_exit():
    """Log a user-fixable error as a plain message and exit with its code; let anything else propagate."""
    try:
        yield
    except tuple(EXIT_CODES) as e:
        log.error("%s", e)
        raise SystemExit(next(code for cls, code in EXIT_CODES.items() if isinstance(e, cls))) from None
