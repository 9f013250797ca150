"""An OpenAI-compatible judge (``backend=api``): the same schemes, prompts, parsing and rows as the local judge,
with the replies from a server that speaks OpenAI's chat-completions protocol (OpenAI, vLLM, SGLang, Ollama).

One process, no weights and no processor. Requests run concurrently (``api.concurrency`` at most at a time);
the ``openai`` client retries 429s, 5xx and timeouts with exponential backoff and jitter, honouring
``Retry-After``; a reply the client cannot read is asked again the same way. A 401, 403 or 404 means a wrong key,
model or URL: the first sample is asked alone, so that stops the run before anything else is asked. The key is
read from the environment variable ``api.key_env`` names, and is never written anywhere.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import math
import os
import random
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable

from PIL import Image

from evaluator import logprobs, stopping
from evaluator.errors import JudgeUnavailable
from evaluator.judge import add_distribution, add_reply, new_parts, parse_reply, result_row
from evaluator.parsing import UNPARSEABLE, Parsed

log = logging.getLogger(__name__)

# A PNG larger than this is sent as a JPEG instead (photographs compress far better so).
JPEG_OVER_BYTES = 1_500_000
TOP_LOGPROBS = 20  # the most OpenAI returns


API_ERROR = "api error:"


class ApiFailure(Exception):
    """A request that failed for good (retries spent, or refused as malformed): this sample's error."""


def data_url(image: Image.Image, max_pixels: int | None = None) -> str:
    """The image as a data URL: PNG, or JPEG where the PNG would be large; first scaled down to at most
    ``max_pixels`` (``data.max_pixels``), as the local judge's processor would."""
    if max_pixels and image.width * image.height > max_pixels:
        scale = math.sqrt(max_pixels / (image.width * image.height))
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    kind = "png"
    if buf.tell() > JPEG_OVER_BYTES:
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=90)
        kind = "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(buf.getvalue()).decode()}"


def to_openai(messages: list[dict], urls: dict[str, str]) -> list[dict]:
    """Our chat messages in the protocol's form: each image part becomes an ``image_url`` part."""
    out = []
    for m in messages:
        if isinstance(m["content"], str):
            out.append(m)
            continue
        content = [
            {"type": "image_url", "image_url": {"url": urls[c["role"]]}} if c["type"] == "image" else c
            for c in m["content"]
        ]
        out.append({"role": m["role"], "content": content})
    return out


class RemoteJudge:
    """Scores samples through an OpenAI-compatible server; see the module docstring."""

    def __init__(self, api_cfg, scheme, dataset, max_pixels: int | None, seed: int = 0):
        self.cfg = api_cfg
        self.scheme = scheme
        self.dataset = dataset  # a PairDataset: the same image checks, resizing and orientation as the local judge
        self.max_pixels = max_pixels
        self.seed = seed
        self.max_tokens = int(scheme.max_new_tokens or api_cfg.max_tokens)
        self._key = os.environ.get(api_cfg.key_env) if api_cfg.key_env else None  # kept in memory only

    def score(self, on_row: Callable[[dict], None]) -> list[dict]:
        """Every sample of the dataset, each row passed to ``on_row`` as soon as it is answered (for the shard).

        Raises:
            JudgeUnavailable: the server refused the key, the model or the URL.
            Stopped: SIGTERM or SIGINT; the rows answered so far went to ``on_row``.
        """
        return asyncio.run(self._score_all(on_row))

    async def _score_all(self, on_row) -> list[dict]:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(
            base_url=self.cfg.base_url, api_key=self._key or "none", max_retries=self.cfg.max_retries,
            timeout=self.cfg.timeout_s,
        )  # fmt: skip
        limit = asyncio.Semaphore(int(self.cfg.concurrency))
        rows: list[dict] = []
        try:
            indices = list(range(len(self.dataset)))
            if indices:  # the probe: a wrong key, model or URL, or no server at all, stops the run here
                rows.append(await self._sample(client, limit, indices[0]))
                if "APIConnectionError" in str(rows[-1]["error"]):
                    raise JudgeUnavailable(f"api: cannot reach {self.cfg.base_url}; is the server up?")
                on_row(rows[-1])
            pending = {asyncio.ensure_future(self._sample(client, limit, i)) for i in indices[1:]}
            try:
                while pending:
                    done, pending = await asyncio.wait(pending, timeout=0.2, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        rows.append(task.result())
                        on_row(rows[-1])
                    stopping.check()
            finally:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        finally:
            await client.close()
        return rows

    async def _sample(self, client, limit: asyncio.Semaphore, index: int) -> dict:
        async with limit:  # the judgements of a sample one after another: at most `concurrency` requests at once
            start = time.perf_counter()
            item = await asyncio.to_thread(self.dataset.__getitem__, index)
            sample = item["sample"]
            urls = await asyncio.to_thread(
                lambda: {role: data_url(item[role], self.max_pixels) for role in ("source", "edited")}
            )
            stats = Counter()
            parts = new_parts()
            extra = self.scheme.values(sample)
            for j in self.scheme.judgements:
                messages = to_openai(j.prompt.messages(sample, extra), urls)
                try:
                    await self._judge(client, messages, j, sample.id, stats, parts)
                except ApiFailure as e:
                    parts["errors"][j.name] = str(e)
        row = {"id": sample.id, **result_row(self.scheme, parts), "rank": 0}
        row["seconds"] = round(time.perf_counter() - start, 4)
        row.update({f"api_{k}": stats[k] for k in ("requests", "retries", "prompt_tokens", "completion_tokens")})
        return row

    async def _judge(self, client, messages: list[dict], judgement, sample_id: str, stats: Counter, parts: dict):
        """Ask one judgement, and put its reply and scores into the sample's ``parts``."""
        if self.scheme.mode == "logits":
            await self._judge_logprobs(client, messages, judgement, stats, parts)
            return
        reply, _ = await self._ask(client, messages, stats)
        parsed = parse_reply(self.scheme, reply, judgement.keys)
        for attempt in range(1, self.scheme.retries + 1):
            if not any(p.error == UNPARSEABLE for p in parsed.values()):
                break
            seed = zlib.crc32(f"{self.seed}:{attempt}:{sample_id}:{judgement.name}".encode())
            again, _ = await self._ask(client, messages, stats, temperature=self.scheme.retry_temperature, seed=seed)
            better = parse_reply(self.scheme, again, judgement.keys)
            if not any(p.error == UNPARSEABLE for p in better.values()):
                reply, parsed = again, better
        add_reply(parts, judgement.name, reply, parsed)

    async def _judge_logprobs(self, client, messages: list[dict], judgement, stats: Counter, parts: dict):
        reply, tokens = await self._ask(client, messages, stats, with_logprobs=True)
        if tokens is None:
            raise JudgeUnavailable(
                f"api: {self.cfg.base_url} returned no logprobs for {self.cfg.model}; judge.mode=logits needs a "
                "server that returns them (judge.mode=generate works with any)"
            )
        dists = {key: logprobs.read(tokens, key, self.scheme.low, self.scheme.high) for key in judgement.keys}
        parsed = {k: Parsed(None, UNPARSEABLE) if d is None else Parsed(round(d.expected, 6)) for k, d in dists.items()}
        add_reply(parts, judgement.name, reply, parsed)
        for key, dist in dists.items():
            if dist is not None:
                add_distribution(parts, key, dist)

    async def _ask(self, client, messages, stats: Counter, temperature=0.0, seed=None, with_logprobs=False):
        """One reply, and ``with_logprobs`` its tokens with their top alternatives (None if the server sent none);
        the client's own retries (429, 5xx, timeouts) and ours (a body it cannot read) counted."""
        import openai

        for attempt in range(self.cfg.max_retries + 1):
            stats["requests"] += 1
            stats["retries"] += attempt > 0
            try:
                raw = await client.chat.completions.with_raw_response.create(
                    model=self.cfg.model, messages=messages, max_tokens=self.max_tokens, temperature=temperature,
                    **({"seed": seed} if seed is not None else {}),
                    **({"logprobs": True, "top_logprobs": TOP_LOGPROBS} if with_logprobs else {}),
                )  # fmt: skip
                stats["requests"] += raw.retries_taken  # the client's own retries: 429, 5xx, timeouts
                stats["retries"] += raw.retries_taken
                response = raw.parse()
                text = response.choices[0].message.content or ""
                tokens = _tokens(response.choices[0]) if with_logprobs else None
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
                raise JudgeUnavailable(_refused(e, self.cfg, self._key)) from None
            except openai.APIStatusError as e:
                raise ApiFailure(f"api error: {e.status_code} {_short(e, self._key)}") from None
            except (openai.APITimeoutError, openai.APIConnectionError) as e:
                raise ApiFailure(f"api error: {type(e).__name__} after {self.cfg.max_retries} retries") from None
            except (openai.APIResponseValidationError, ValueError, AttributeError, IndexError, TypeError) as e:
                if attempt == self.cfg.max_retries:
                    raise ApiFailure(f"api error: unreadable response ({type(e).__name__})") from None
                await asyncio.sleep(min(8.0, 0.5 * 2**attempt) * (0.75 + random.random() / 2))
                continue
            usage = getattr(response, "usage", None)
            stats["prompt_tokens"] += getattr(usage, "prompt_tokens", 0) or 0
            stats["completion_tokens"] += getattr(usage, "completion_tokens", 0) or 0
            return text, tokens
        raise AssertionError("unreachable")


def _tokens(choice) -> list[dict] | None:
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    return [
        {"token": t.token, "logprob": t.logprob,
         "top_logprobs": [{"token": a.token, "logprob": a.logprob} for a in (t.top_logprobs or [])]}
        for t in content
    ]  # fmt: skip


def failed_request(row: dict) -> bool:
    """Whether a row's error is a request that failed (retries spent), not a reply: worth asking again."""
    return any(str(v).startswith(API_ERROR) or f": {API_ERROR}" in str(v) for k, v in row.items() if "error" in k and v)


def _short(e, key: str | None = None) -> str:
    """The server's message, one line, with anything like a key masked (OpenAI quotes part of a wrong key)."""
    text = str(getattr(e, "message", e)).splitlines()[0][:200]
    if key:
        text = text.replace(key, "***")
    return re.sub(r"\b(sk|key)-[\w*-]{4,}", r"\1-***", text)


def _refused(e, cfg, key: str | None) -> str:
    what = {401: "the key (api.key_env)", 403: "the key's access", 404: "api.model and api.base_url"}
    return (
        f"api: {cfg.base_url} answered {e.status_code} ({_short(e, key)}); check "
        f"{what.get(e.status_code, 'the settings')} (api.model={cfg.model})"
    )


def predict(cfg, scheme, plan, out_dir, fp: str) -> list[dict]:
    """``backend=api``: the plan's samples through the server, each answered row into the shard at once, so a
    stopped or killed run loses only the requests in flight."""
    from tqdm.auto import tqdm

    from evaluator.dataset import PairDataset
    from evaluator.logs import around_progress_bar
    from evaluator.resume import ShardWriter

    dataset = PairDataset.from_config(plan.todo, cfg.data)
    writer = ShardWriter(out_dir, fp, plan.digests)
    writer.open(0)
    judge = RemoteJudge(cfg.api, scheme, dataset, cfg.data.max_pixels, cfg.seed)
    with around_progress_bar(), tqdm(total=len(dataset), desc="judging", unit="sample", dynamic_ncols=True) as progress:

        def done(row: dict) -> None:
            if not failed_request(row):  # a request that failed for good is asked again by a rerun
                writer.write([row])
            progress.update(1)

        try:
            rows = judge.score(done)
        finally:
            writer.close()
    log.info("scored %d samples through %s", len(rows), cfg.api.base_url)
    return rows
