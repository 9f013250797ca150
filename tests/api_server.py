"""A small OpenAI-compatible chat-completions server for the tests, on 127.0.0.1 in a thread.

Replies are canned, keyed by the prompt's text: ``{"score": N}`` with N from a hash of the text, so every run
gets the same scores. ``faults`` maps a piece of prompt text to the faults its next requests meet, in order:
``429`` and ``500`` (with ``Retry-After``), ``timeout`` (an answer slower than the client waits), ``malformed``
(a body that is not JSON), ``401``, ``nologprobs`` (logprobs asked for, none sent), ``422logprobs`` (the
logprobs fields refused), and the hostile ones:
``drip`` (the headers at once, then one byte of the body every ``hang`` seconds), ``close`` (half the body, then
the connection closed), ``echo_auth`` (the reply quotes the request's Authorization header), ``huge`` (a reply of
``huge_bytes``), ``slow_retry`` (a 429 that asks for a 1000 s wait). ``content(text)``, where given, writes the reply
instead of the canned one, and ``logprobs(text)`` its logprobs; ``judge(text, brightness)`` writes it from the mean
brightness (0-255) of each image the request shows, in order. ``down_after``: after answering that many requests
the server shuts down, refusing connections from then on (a server that dies mid-run). ``answers_as``: the model
its replies name (a server that serves another model than the one asked for). It records every request's
text, images, Authorization header, and the most requests it served at once.
"""

from __future__ import annotations

import json
import math
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def canned_score(text: str) -> int:
    return zlib.crc32(text.encode()) % 11


def logprob_score(text: str) -> int:
    """With logprobs asked for, the judge writes a score of 2..9 with probability 0.7, and its alternatives are
    one below (0.2) and one above (0.1): an expected score of N - 0.1."""
    return canned_score(text) % 8 + 2


def logprob_reply(text: str) -> tuple[str, dict]:
    n = logprob_score(text)
    pieces = ['{"', "score", '":', " ", str(n), "}"]
    alternatives = {str(n): 0.7, str(n - 1): 0.2, str(n + 1): 0.1}
    content = []
    for piece in pieces:
        top = alternatives if piece == str(n) else {piece: 1.0}
        content.append(
            {
                "token": piece,
                "logprob": math.log(top[piece]),
                "bytes": None,
                "top_logprobs": [{"token": t, "logprob": math.log(p), "bytes": None} for t, p in top.items()],
            }
        )
    return "".join(pieces), {"content": content}


def _brightness(body: dict) -> list[float]:
    """The mean brightness of each image a chat request shows, in order (from its data URLs)."""
    import base64
    import io

    from PIL import Image, ImageStat

    urls = [c["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list) for c in m["content"]
            if c["type"] == "image_url"]  # fmt: skip
    images = [Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))).convert("L") for u in urls]
    return [ImageStat.Stat(im).mean[0] for im in images]


class Server:
    def __init__(self, delay: float = 0.0, faults: dict[str, list[str]] | None = None, hang: float = 2.0, port=0,
                 content=None, logprobs=None, huge_bytes: int = 20_000_000, judge=None,
                 down_after: int | None = None, answers_as: str | None = None):  # fmt: skip
        self.delay, self.hang, self.judge, self.down_after = delay, hang, judge, down_after
        self.answers_as = answers_as  # the model the server says answered (default: the one asked for)
        self.answered = 0
        self.content, self.logprobs, self.huge_bytes = content, logprobs, huge_bytes
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.texts: list[str] = []
        self.image_urls: list[list[str]] = []  # each request's images, as data URLs
        self.auth: set[str] = set()
        self.active = self.most = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _fault(self, text: str) -> str | None:
        with self.lock:
            for piece, queue in self.faults.items():
                if piece in text and queue:
                    return queue.pop(0)
        return None

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                text = "\n".join(
                    c["text"] for m in body["messages"] if isinstance(m["content"], list) for c in m["content"]
                    if c["type"] == "text"
                )  # fmt: skip
                urls = [c["image_url"]["url"] for m in body["messages"] if isinstance(m["content"], list)
                        for c in m["content"] if c["type"] == "image_url"]  # fmt: skip
                with server.lock:
                    server.texts.append(text)
                    server.image_urls.append(urls)
                    server.auth.add(self.headers.get("Authorization", ""))
                    server.active += 1
                    server.most = max(server.most, server.active)
                try:
                    self._answer(body, text, server._fault(text))
                finally:
                    with server.lock:
                        server.active -= 1
                        server.answered += 1
                        if server.answered == server.down_after:
                            threading.Thread(target=server.__exit__, daemon=True).start()

            def _answer(self, body: dict, text: str, fault: str | None) -> None:
                time.sleep(server.delay)
                if fault in ("429", "500", "401", "slow_retry"):
                    code = 429 if fault == "slow_retry" else int(fault)
                    wait = "1000" if fault == "slow_retry" else "0.05"
                    self._send(code, {"error": {"message": f"injected {fault}", "type": "x"}}, retry=wait)
                    return
                if fault == "422logprobs":  # as transformers serve may answer fields it does not take
                    message = "Unsupported fields in the request: {'logprobs', 'top_logprobs'}"
                    self._send(422, {"error": {"message": message, "type": "invalid_request_error"}})
                    return
                if fault == "timeout":
                    time.sleep(server.hang)
                reply = json.dumps({"reason": "canned", "score": canned_score(text)})
                if server.content is not None:
                    reply = server.content(text)
                if server.judge is not None:
                    reply = server.judge(text, _brightness(body))
                if fault == "echo_auth":
                    reply = f"You sent {self.headers.get('Authorization')}. " + reply
                if fault == "huge":
                    reply = "x" * server.huge_bytes + reply
                choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}
                if body.get("logprobs") and fault != "nologprobs":
                    if server.logprobs is not None:
                        choice["logprobs"] = server.logprobs(text)
                    else:
                        reply, choice["logprobs"] = logprob_reply(text)
                        choice["message"]["content"] = reply
                completion = {
                    "id": "c", "object": "chat.completion", "created": 0, "model": server.answers_as or body["model"], "choices": [choice],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
                }  # fmt: skip
                if fault == "malformed":
                    self._send(200, None, raw=b"{this is not json")
                else:
                    self._send(200, completion, fault=fault)

            def _send(self, code: int, payload, retry: str | None = None, raw: bytes | None = None, fault=None):
                data = raw if raw is not None else json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if retry:
                        self.send_header("Retry-After", retry)
                    self.end_headers()
                    if fault == "drip":
                        for i in range(len(data)):
                            self.wfile.write(data[i : i + 1])
                            self.wfile.flush()
                            time.sleep(server.hang)
                    elif fault == "close":
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(2)
                    else:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError, OSError):  # the client gave up waiting (a timeout)
                    pass

        return Handler
