"""Other programs a run starts (a vLLM server, in an interpreter of its own), and a watchdog that keeps each from
outliving the rank that started it. The one module of the package that starts processes by hand.

The watchdog, ``python -m evaluator.runtime.processes --parent PID --grace S -- COMMAND...``, leads a process
group of its own, runs ``COMMAND`` in it, and ends the whole group (SIGTERM, then SIGKILL after ``S`` seconds)
when the rank ``PID`` is gone (a ``kill -9`` included, which no handler in the rank can see), when it is sent
SIGTERM or SIGINT itself, or when ``COMMAND`` exits. Its exit code is ``COMMAND``'s. The group takes in every
process the server starts (vLLM's engine and workers), so nothing of it holds a GPU afterwards.

Standard library only: it starts in a moment and needs nothing the server's own environment lacks.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time

POLL_S = 0.5


Watched = subprocess.Popen  # a program started under a watchdog


def output_of(command: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    """A short command's exit code and output (text), within ``timeout_s``.

    Raises:
        OSError: it cannot start, or (``TimeoutError``) it did not end in time.
    """
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"{command[0]} did not end within {timeout_s:g} s") from None


def start_watched(command: list[str], log_path, grace_s: float = 5.0, env: dict | None = None) -> Watched:
    """``command`` under a watchdog tied to this process, its output appended to ``log_path``;
    ``stop_watched`` ends it."""
    watchdog = [sys.executable, "-m", "evaluator.runtime.processes", "--parent", str(os.getpid()), "--grace"]
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [*watchdog, str(grace_s), "--", *command],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip


def stop_watched(processes: list[Watched], timeout_s: float = 10.0) -> None:
    """End watchdogs' groups: SIGTERM to all of them at once, then SIGKILL to what is left after ``timeout_s``."""
    for p in processes:
        if p.poll() is None:
            _signal_group(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for p in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(0.0, deadline - time.monotonic()))
    for p in processes:
        _signal_group(p.pid, signal.SIGKILL)  # the server's own children, whatever the watchdog managed
        p.wait()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _end_group(child: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM to the group but this process, SIGKILL to all of it (this process included) after ``grace_s``."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _signal_group(os.getpgid(0), signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    sys.stdout.flush()
    _signal_group(os.getpgid(0), signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluator.runtime.processes")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopped.append(True))
    try:
        child = subprocess.Popen(command)
    except OSError as e:
        sys.stderr.write(f"watchdog: cannot start {command[0]}: {e}\n")  # into the server's log
        return 127
    while child.poll() is None:
        if stopped or os.getppid() != args.parent:  # stopped, or the rank is gone (this process was re-parented)
            _end_group(child, args.grace)
        time.sleep(POLL_S)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
