"""The errors a user can fix, and turning them into one clear message and an exit code instead of a traceback.

This module imports nothing heavy, so every part of the evaluator can raise these before torch is loaded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import contextmanager

from evaluator.runtime.logs import escape
from evaluator.runtime.topology import under_torchrun

log = logging.getLogger(__name__)

RANK_FAILED_GRACE_S = 5
SHOWN = 50  # problems listed in a message; a million bad rows must not print a million lines


class UserError(Exception):
    """A mistake or a state the user can fix; shown as its message alone, the process exits with ``exit_code``."""

    exit_code = 2
    # Every rank meets the same config or data mistake; one copy of the message is enough.
    same_on_every_rank = True


class ConfigError(UserError):
    """The config asks for something that cannot work (a typo, a bad value, a folder that cannot be written)."""


class CallFailed(ConfigError):
    """A setting that fails only once work runs (an editing pipeline's keyword); the rank that meets it says so."""

    same_on_every_rank = False


class DataError(UserError):
    """The input cannot be scored as given; ``problems`` lists every row at fault."""

    def __init__(self, source: str, problems: Sequence, note: str = ""):
        self.source = source
        self.problems = list(problems)
        self.note = note
        lines = [f"{len(self.problems)} problem(s) in {source}:", "  row  id                    problem"]
        lines += [f"  {p.row:<4} {escape(p.id)[:20]:<21} {escape(p.message)[:200]}" for p in self.problems[:SHOWN]]
        if len(self.problems) > SHOWN:
            lines.append(f"  … and {len(self.problems) - SHOWN} more (with data.on_error=skip each is an error row)")
        if note:
            lines.append(note)
        super().__init__("\n".join(lines))

    def __reduce__(self):  # travels between ranks: rebuild from the arguments, not from the message
        return DataError, (self.source, self.problems, self.note)


class JudgeUnavailable(UserError):
    """The judge checkpoint cannot be loaded (not local and the hub out of reach, or not a checkpoint)."""

    exit_code = 3


class EditorUnavailable(JudgeUnavailable):
    """The editing pipeline cannot be loaded (not local and the hub out of reach, gated, or not a pipeline)."""


class OutputError(UserError):
    """A result file cannot be written (a full disk, a read-only folder, a quota)."""

    same_on_every_rank = False


class RankFailed(UserError):
    """Another rank failed; this one stops instead of waiting for it."""

    exit_code = 1
    same_on_every_rank = False
    reported_elsewhere = False  # another thread of this process says it, and ends the process


def first_line(err: BaseException) -> str:
    """An exception's first line of text, or its type's name if it has none (for one-line messages)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


INTERRUPTED = "stopped by SIGINT; the work finished so far is kept, run the same command again to resume"


@contextmanager
def report_and_exit(rank: int = 0):
    """Log a user-fixable error as a plain message and exit with its code; Ctrl-C before a stage notes signals
    itself (while Python imports torch, say) is one line and exit 130, as after; let anything else propagate."""
    try:
        yield
    except KeyboardInterrupt:
        log.error("%s", INTERRUPTED)
        raise SystemExit(130) from None
    except UserError as e:
        if getattr(e, "reported_elsewhere", False):
            time.sleep(2)  # the failure watcher is saying it and ending the process; the exit code is the same
        elif rank == 0 or not e.same_on_every_rank:
            # A message may quote what the user typed or a file holds; its lines are its own, its bytes are not.
            log.error("%s", "\n".join(escape(line, table=False) for line in str(e).split("\n")))
        if isinstance(e, RankFailed) and under_torchrun():
            # Let the failing rank exit first, so torchrun names it as the root cause, not this one.
            time.sleep(RANK_FAILED_GRACE_S)
        raise SystemExit(e.exit_code) from None
