"""The server judge's client at scale: samples per second against an instant local server, and seconds from SIGTERM
to exit, at several row counts (issue 22, case 13). Run from the repository root:

    python -m bench.api_window --rows 2000 20000

Tiny images (two 32x32 PNGs shared by every row), so the client's own bookkeeping is what is measured, not image
encoding (issue 21 measures that). The server is the tests' OpenAI-compatible one on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from tests.api_server import Server


def manifest(folder: Path, rows: int) -> Path:
    Image.new("RGB", (32, 32), (10, 20, 30)).save(folder / "a.png")
    Image.new("RGB", (32, 32), (30, 20, 10)).save(folder / "b.png")
    path = folder / "m.jsonl"
    lines = (json.dumps({"id": f"r{i}", "source": "a.png", "edited": "b.png", "instruction": f"edit {i}"})
             for i in range(rows))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def command(server: Server, data: Path, out: Path, concurrency: int) -> list[str]:
    return [sys.executable, "-m", "evaluator", "backend=api", f"api.base_url={server.url}", "api.model=m",
            "api.key_env=null", f"api.concurrency={concurrency}", "data=manifest", f"data.path={data}",
            "report=false", f"out_dir={out}"]  # fmt: skip


def answered(out: Path) -> int:
    shard = out / "shards" / "rank-0.jsonl"
    return shard.read_text().count("\n") if shard.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp, Server() as server:
            tmp = Path(tmp)
            data = manifest(tmp, rows)
            proc = subprocess.Popen(command(server, data, tmp / "out", args.concurrency), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)  # fmt: skip
            while answered(tmp / "out") < 1 and proc.poll() is None:
                time.sleep(0.05)
            start, first = time.monotonic(), answered(tmp / "out")
            while answered(tmp / "out") < rows // 2 and proc.poll() is None:
                time.sleep(0.05)
            rate = (answered(tmp / "out") - first) / (time.monotonic() - start)
            proc.send_signal(signal.SIGTERM)
            stop = time.monotonic()
            code = proc.wait()
            print(f"{rows} rows: {rate:.0f} samples/s over the first half (start-up excluded); "
                  f"SIGTERM to exit {time.monotonic() - stop:.2f} s (exit {code})")  # fmt: skip


if __name__ == "__main__":
    main()
