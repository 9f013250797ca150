"""The watchdog a server runs under: it ends the server's whole process group when the rank that started it is
gone (``kill -9`` too), when it is stopped, and it passes on the server's own exit code."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from evaluator.runtime import processes

# A "server" that starts a child of its own, as vLLM starts its engine, and records both pids.
SERVER = textwrap.dedent("""
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open(sys.argv[1], "w").write(f"{child.pid}\\n")
    time.sleep(600)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone for our purposes
        return f.read().split()[2] != "Z"


def _wait_for(path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return int(path.read_text())


def test_kill_9_of_the_parent_ends_the_server_and_its_children(tmp_path):
    pids = tmp_path / "pids"
    # A stand-in for the rank: it starts the watchdog, then is killed with SIGKILL (no handler can run).
    rank = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from evaluator.runtime import processes
        processes.start_watched([sys.executable, "-c", {SERVER!r}, {str(pids)!r}], {str(tmp_path / "log")!r}, grace_s=1)
        time.sleep(600)
    """)])  # fmt: skip
    grandchild = _wait_for(pids)
    assert _alive(grandchild)
    rank.kill()
    rank.wait()
    deadline = time.monotonic() + 10
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(grandchild)


def test_stop_ends_the_group_within_its_timeout(tmp_path):
    pids = tmp_path / "pids"
    process = processes.start_watched([sys.executable, "-c", SERVER, str(pids)], tmp_path / "log", grace_s=1)
    grandchild = _wait_for(pids)
    start = time.monotonic()
    processes.stop_watched([process], timeout_s=5)
    assert time.monotonic() - start < 6
    assert process.poll() is not None and not _alive(grandchild)


def test_the_exit_code_and_output_are_the_servers(tmp_path):
    log = tmp_path / "server.log"
    process = processes.start_watched([sys.executable, "-c", "print('bad argument'); raise SystemExit(2)"], log)
    assert process.wait(30) == 2
    assert "bad argument" in log.read_text()
    missing = processes.start_watched(["/nonexistent/python"], log)
    assert missing.wait(30) == 127 and "cannot start /nonexistent/python" in log.read_text()
