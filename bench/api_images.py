"""The server judge's client with real-sized images: samples per second of ``backend=api`` against an instant local
server, next to a bare client that sends the same files' bytes (issue 21). Run from the repository root:

    python -m bench.api_images --side 1024 2048 --format png jpeg

Each row is a pair of photograph-like images (smooth gradients and mild noise; 16 distinct pairs, reused). The
server is a minimal HTTP server in its own process that reads each request whole and answers at once, so what is
measured is the client: reading, encoding and sending the images. Rates are marginal: counted from the first
answer to the last, so start-up (imports, checking the images) is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPLY = json.dumps({
    "id": "c", "object": "chat.completion", "created": 0, "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": '{"reason": "ok", "score": 7}'}}],
    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
}).encode()  # fmt: skip


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(REPLY)
            )
            writer.write(REPLY)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def serve(port_out) -> None:
    async def main():
        server = await asyncio.start_server(_serve_one, "127.0.0.1", 0, limit=2**20)
        port_out.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def make_images(folder: Path, side: int, fmt: str, distinct: int = 16) -> list[tuple[Path, Path]]:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:side, 0:side] / side
    pairs = []
    for i in range(distinct):
        files = []
        for role in ("s", "e"):
            base = np.stack([x * 200 + 20 * i, y * 180 + 10, (x + y) * 100 + 30], axis=-1)
            pixels = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
            path = folder / f"{role}{i}.{fmt.replace('jpeg', 'jpg')}"
            Image.fromarray(pixels).save(path, **({"quality": 90} if fmt == "jpeg" else {}))
            files.append(path)
        pairs.append(tuple(files))
    return pairs


def manifest(folder: Path, pairs, rows: int) -> Path:
    path = folder / "m.jsonl"
    lines = (json.dumps({"id": f"r{i}", "source": str(pairs[i % len(pairs)][0]),
                         "edited": str(pairs[i % len(pairs)][1]), "instruction": f"edit {i}"})
             for i in range(rows))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def evaluator_rate(url: str, data: Path, out: Path, rows: int, concurrency: int) -> float:
    """``backend=api``'s samples per second, from the shard's growth between the first answer and the last."""
    command = [sys.executable, "-m", "evaluator", "backend=api", f"api.base_url={url}", "api.model=m",
               "api.key_env=null", f"api.concurrency={concurrency}", "data=manifest", f"data.path={data}",
               "report=false", f"out_dir={out}"]  # fmt: skip
    shard = out / "shards" / "rank-0.jsonl"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answered() -> int:
        return shard.read_text().count("\n") if shard.exists() else 0

    while answered() < 1 and proc.poll() is None:
        time.sleep(0.02)
    start, first = time.monotonic(), answered()
    while answered() < rows and proc.poll() is None:
        time.sleep(0.02)
    rate = (answered() - first) / (time.monotonic() - start)
    proc.wait()
    return rate


async def _bare(url: str, files: list[tuple[str, str]], concurrency: int) -> float:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key="none", max_retries=0)
    limit = asyncio.Semaphore(concurrency)
    times: list[float] = []

    def urls(pair):
        kind = "png" if pair[0].endswith(".png") else "jpeg"
        return [f"data:image/{kind};base64,{base64.b64encode(Path(p).read_bytes()).decode()}" for p in pair]

    async def one(i: int, pair) -> None:
        async with limit:
            images = await asyncio.to_thread(urls, pair)
            content = [*({"type": "image_url", "image_url": {"url": u}} for u in images),
                       {"type": "text", "text": f"edit {i}"}]  # fmt: skip
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": content}])
            times.append(time.monotonic())

    await asyncio.gather(*(one(i, p) for i, p in enumerate(files)))
    await client.close()
    times.sort()
    return (len(times) - 1) / (times[-1] - times[0])


def bare_rate(url: str, data: Path, concurrency: int) -> float:
    """A bare client's samples per second: each row's two files read, base64-encoded and sent, nothing else."""
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    files = json.dumps([[r["source"], r["edited"]] for r in rows])
    code = f"import json,sys; from bench.api_images import bare_main; bare_main({url!r}, {files!r}, {concurrency})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bare_main(url: str, files: str, concurrency: int) -> None:
    print(asyncio.run(_bare(url, [tuple(p) for p in json.loads(files)], concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument("--format", nargs="+", default=["png", "jpeg"], choices=["png", "jpeg"])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    ports = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}/v1"
    try:
        for side in args.side:
            for fmt in args.format:
                with tempfile.TemporaryDirectory() as tmp:
                    tmp = Path(tmp)
                    pairs = make_images(tmp, side, fmt)
                    data = manifest(tmp, pairs, args.rows)
                    size = pairs[0][0].stat().st_size / 1e6
                    ours = evaluator_rate(url, data, tmp / "out", args.rows, args.concurrency)
                    bare = bare_rate(url, data, args.concurrency)
                    line = (f"{side}² {fmt} ({size:.2f} MB a file), concurrency {args.concurrency}: "
                            f"backend=api {ours:.1f} samples/s, bare client {bare:.1f} samples/s, "
                            f"ratio {ours / bare:.2f}")  # fmt: skip
                    print(line, flush=True)
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
