"""Stopping cleanly on SIGTERM or SIGINT (preemption on SLURM and Kubernetes, Ctrl-C): each rank finishes the
batch in flight, its shard flushed and fsynced, and exits non-zero with one line saying how to resume.

The handler only notes the signal; the run checks for it after every batch and in every wait, and a rank that
stops tells the others through the store (``Coordinator``), so a signal to one rank stops all of them.
"""

from __future__ import annotations

import contextlib
import signal
import threading

from evaluator.runtime.errors import UserError

_received: list[int] = []  # this process's signals, in order (one process, one list: no rank shares it)
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopped(UserError):
    """The run was stopped by a signal; what was scored is in the shards and a rerun resumes from there."""

    same_on_every_rank = True

    def __init__(self, signum: int, where: str = ""):
        self.signum = signum
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name}{where}; the work finished so far is kept, run the same command again to resume"
        )

    def __reduce__(self):
        return Stopped, (self.signum,)


def _note(signum, frame) -> None:
    _received.append(signum)


def install() -> None:
    """Note SIGTERM and SIGINT instead of dying mid-batch (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread():
        for s in SIGNALS:
            signal.signal(s, _note)


@contextlib.contextmanager
def handling():
    """Within: signals are noted (``install``), none from an earlier run counts; after: the handlers the
    process had before are back (a run inside a Python session leaves Ctrl-C as it found it)."""
    main = threading.current_thread() is threading.main_thread()
    before = {s: signal.getsignal(s) for s in SIGNALS} if main else {}
    _received.clear()
    install()
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def raise_if_stopped(where: str = "") -> None:
    """Raise ``Stopped`` if this process received a signal."""
    if _received:
        raise Stopped(_received[0], where)
