"""What ranks tell each other: a failure flag, failure-aware waits, and passing Python objects to and from rank 0.

Long waits poll the process group's key-value store rather than block in a collective, so a rank that fails and
says so stops everyone within a second or two instead of leaving them in a 30-minute collective timeout. Every
collective here is preceded by such a wait.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

import torch.distributed as dist

from evaluator.runtime import stopping
from evaluator.runtime.errors import RankFailed, UserError
from evaluator.runtime.stopping import Stopped

log = logging.getLogger("evaluator.runtime.errors")  # the logger that reports every other rank's reason to stop


def initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


class Coordinator:
    """One run's coordination between ranks; a single process needs none and every call is then immediate.

    Keys are per run, so one process group (a training job's) can serve several runs.
    """

    def __init__(self):
        self.store = None
        self.prefix = "evaluator"
        self.rank, self.world_size = 0, 1
        self._group = None
        # The failure watcher and the main thread may see a failure at once: the first to take this reports it.
        self._report_failure = threading.Lock()
        self._watch_ended = threading.Event()  # set by shutdown: the failure watcher leaves the store alone
        self._watcher: threading.Thread | None = None
        if initialized():
            self.store = dist.distributed_c10d._get_default_store()
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
            # Every rank bumps the counter once per run, so the k-th run in a process group gets its own keys.
            run = (self.store.add("evaluator/runs", 1) - 1) // self.world_size
            self.prefix = f"evaluator/{run}"

    def add(self, name: str, n: int) -> int:
        """Add ``n`` to a counter shared by all ranks and return its new value."""
        return self.store.add(f"{self.prefix}/{name}", n) if self.store is not None else n

    def fail(self, error: BaseException) -> None:
        """Tell the other ranks that this one failed (best effort: the store may be gone already).

        The first failure is the one reported; a rank that stops because of another's says nothing. A rank stopped
        by a signal says so, and the others stop as it did.
        """
        if self.store is None or isinstance(error, RankFailed):
            return
        if isinstance(error, Stopped):
            key, message = f"{self.prefix}/stopped", str(error.signum)
        else:
            key, message = f"{self.prefix}/failed", f"rank {self.rank}: {type(error).__name__}: {error}"
        with contextlib.suppress(Exception):  # the store may be gone; the launcher stops the others then
            self.store.compare_set(key, "", message)

    def check(self) -> None:
        """Raise ``Stopped`` if this process or another rank got a stop signal, ``RankFailed`` if another rank
        said it failed."""
        stopping.raise_if_stopped()
        if self.store is None:
            return
        if self.store.check([f"{self.prefix}/failed"]):
            error = RankFailed(f"stopping because {self.store.get(f'{self.prefix}/failed').decode()}")
            error.reported_elsewhere = not self._report_failure.acquire(blocking=False)
            raise error
        if self.store.check([f"{self.prefix}/stopped"]):
            raise Stopped(int(self.store.get(f"{self.prefix}/stopped").decode()), " (on another rank)")

    def exit_on_failure(self, poll_seconds: float = 0.5) -> None:
        """Watch for another rank's failure from a thread, and on one, say why and end this process at once.

        For the parent of Lightning's own launcher: its process observer kills the parent with SIGKILL (exit 137)
        within seconds of a child failing, so waiting for the batch in flight to finish would lose the message and
        the exit code. The rows of finished batches are in the shards already.
        """

        def watch() -> None:
            while not self._watch_ended.wait(poll_seconds):
                try:
                    self.check()
                except RankFailed as e:
                    if e.reported_elsewhere:  # the main thread has it, and says it
                        return
                    log.error("%s", e)
                    logging.shutdown()
                    os._exit(1)
                except Exception:  # a stop, or the store gone at the end: the main thread handles those
                    return

        self._watcher = threading.Thread(target=watch, name="evaluator-failure-watch", daemon=True)
        self._watcher.start()

    def wait_for_all(self, name: str, poll_seconds: float = 0.2, on_poll: Callable[[], None] | None = None) -> None:
        """A barrier that notices failed ranks: returns once every rank arrived at ``name``."""
        if self.store is None:
            return
        self.add(name, 1)
        while self.add(name, 0) < self.world_size:
            self.check()
            if on_poll is not None:
                on_poll()
            time.sleep(poll_seconds)

    def broadcast(self, name: str, make: Callable[[], object]):
        """``make()`` as computed on global rank 0, on every rank.

        A ``UserError`` raised by ``make`` is raised on every rank, so all stop with the same message and code.
        """
        value = error = None
        if self.rank == 0:
            try:
                value = make()
            except UserError as e:
                error = e
        if self.store is not None and self.world_size > 1:
            self.wait_for_all(name)
            obj = [(value, error)]
            dist.broadcast_object_list(obj, src=0, group=self._objects_group())
            value, error = obj[0]
        if error is not None:
            raise error
        return value

    def gather(self, name: str, obj) -> list | None:
        """Every rank's ``obj``, in rank order, on global rank 0 (None elsewhere)."""
        if self.store is None or self.world_size == 1:
            return [obj]
        self.wait_for_all(name)
        out = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object(obj, out, dst=0, group=self._objects_group())
        return out

    def _objects_group(self):
        # Python objects travel over gloo: no GPU memory, and NCCL's object collectives need a device set.
        if self._group is None:
            self._group = dist.group.WORLD if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
        return self._group

    def shutdown(self) -> None:
        """Wait for every rank, then tear the process group down.

        Without it a rank that finishes first can exit while gloo's threads still talk to the others, and die
        with SIGABRT ("terminate called without an active exception") after a run that succeeded.
        """
        if initialized():
            self.wait_for_all("shutdown")
            dist.barrier()
            self.stop_watching()
            dist.destroy_process_group()

    def stop_watching(self) -> None:
        """End the failure watcher, if one runs, before this process exits: after a run and after a failure.

        A thread inside a store call while the interpreter exits aborts the process with SIGABRT ("terminate called
        without an active exception"; seen in CI after a run that succeeded, and as exit -6 of the parent that
        reported another rank's failure itself while its watcher polled).
        """
        self._watch_ended.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
