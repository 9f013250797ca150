"""An OpenAI-compatible judge (``backend=api``): the same schemes, prompts, parsing and rows as the local judge,
with the replies from one or more servers that speak OpenAI's chat-completions protocol (OpenAI, vLLM, SGLang).

One process, no weights. At most ``api.concurrency`` requests at a time per server (``api.base_url`` may list
several; see ``evaluator.judge.server_pool``) and twice that many samples in progress, so memory and the time to
stop stay bounded. 429s, 5xx, timeouts, dropped connections and unreadable replies are asked again (on another
server where there is one, else after a backoff with jitter, ``Retry-After`` up to ``api.max_retry_wait_s``),
``api.max_retries`` times at most; ``api.timeout_s`` bounds a whole try, ``api.max_response_bytes`` a reply (see
``evaluator.judge.server_http``). A 401, 403 or 404 (wrong key, model or URL) stops the run; on the first sample,
asked alone, before anything else is asked. The key is read from the environment variable ``api.key_env`` names
and never written: a server that quotes it back has it masked.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import os
import random
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence

from evaluator.config.checks import api_servers
from evaluator.judge import server_request
from evaluator.judge.server_http import (
    API_ERROR,
    capped_client,
    unreachable,
    until_done,
)
from evaluator.judge.server_images import FileImages
from evaluator.judge.server_pool import ServerPool
from evaluator.judge.server_prefill import judge_prefilled
from evaluator.judge.server_request import ApiFailure, ask_once, to_openai
from evaluator.runtime.errors import JudgeUnavailable
from evaluator.runtime.logs import escape
from evaluator.scoring import logprobs
from evaluator.scoring.parsing import UNPARSEABLE, Parsed
from evaluator.scoring.rows import (
    add_distribution,
    add_reply,
    add_samples,
    new_parts,
    parse_reply,
    reply_seed,
    result_row,
)

log = logging.getLogger(__name__)


class RemoteJudge:
    """Scores samples through one or more OpenAI-compatible servers of one model; see the module docstring.

    Args:
        api_cfg: the ``api`` config.
        scheme: the resolved scheme.
        samples: what to score.
        images: a sample's images as data URLs, by role (``FileImages``, or the Python API's images in memory);
            called in a worker thread.
        token_ids: in logit mode, the digits' and verdict words' token ids (``{id: text}``) of a server that
            continues pre-filled replies and returns those tokens' log-probabilities (vLLM); ``api.prefill`` without
            them reads the top alternatives.
        check: called every 0.2 s while requests are in flight; raises to end the run (a server that died).
        decode: the judge's tokenizer's ``decode`` for a server that sends its reply's token ids (vLLM): the reply
            is then the text the local judge stores for the same tokens.
    """

    def __init__(self, api_cfg, scheme, samples: Sequence, images: Callable[[object], dict[str, str]], seed: int = 0,
                 token_ids: dict[int, str] | None = None, check: Callable[[], None] | None = None,
                 decode: Callable[[list[int]], str] | None = None):  # fmt: skip
        self.cfg = api_cfg
        self.token_ids = token_ids
        self.prefill = token_ids is not None or bool(api_cfg.get("prefill", False))
        self.check = check
        self.decode = decode
        self.scheme = scheme
        self.samples = samples
        self.images = images
        self.seed = seed
        self.max_tokens = int(scheme.max_new_tokens or api_cfg.max_tokens)
        self.urls = api_servers(api_cfg)
        self.servers: dict[str, dict[str, int]] = {}  # tries per server once scored (``ServerPool.counts``)
        self._other_models: set[tuple[str, str]] = set()  # (server, model) that answered for another model, said once
        self._key = os.environ.get(api_cfg.key_env) if api_cfg.key_env else None  # kept in memory only

    def score(self, on_row: Callable[[dict], None]) -> list[dict]:
        """Every sample, each row passed to ``on_row`` as soon as it is answered (for the shard); the rows in the
        order answered, each with its sample's position as ``index``.

        Raises:
            JudgeUnavailable: a server refused the key, the model or the URL, or none could be reached.
            Stopped: SIGTERM or SIGINT; the rows answered so far went to ``on_row``.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._score_all(on_row))
        # Called from inside an event loop (a notebook, an async trainer): the requests get a loop of their own.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self._score_all(on_row)).result()

    def _client(self, url: str):
        from openai import AsyncOpenAI

        return AsyncOpenAI(
            base_url=url, api_key=self._key or "none", max_retries=0,  # our retries, bounded
            timeout=self.cfg.timeout_s, http_client=capped_client(int(self.cfg.max_response_bytes)),
        )  # fmt: skip

    async def _score_all(self, on_row) -> list[dict]:
        pool = ServerPool.open(self.urls, int(self.cfg.concurrency), self._client)
        limit = asyncio.Semaphore(pool.slots)
        rows: list[dict] = []
        pending: set[asyncio.Future] = set()
        try:
            indices = iter(range(len(self.samples)))
            first = next(indices, None)
            if first is not None:  # the probe: a wrong key, model or URL, or no server at all, stops the run here
                [probe] = await until_done({asyncio.ensure_future(self._sample(pool, limit, first))}, self.check)
                rows.append(probe.result())
                if unreachable(rows[-1]["error"]):
                    raise JudgeUnavailable(f"api: cannot connect to {pool.urls}; is the server up?")
                on_row(rows[-1])
            window = 2 * pool.slots  # samples in progress: prepared images wait for a free slot
            while True:
                for i in itertools.islice(indices, window - len(pending)):
                    pending.add(asyncio.ensure_future(self._sample(pool, limit, i)))
                if not pending:
                    break
                done = await until_done(pending, self.check)
                pending -= done
                for task in done:
                    rows.append(task.result())
                    on_row(rows[-1])
        finally:
            for task in pending:  # a failure (a refused key) or a stop: nothing keeps asking
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self.servers = pool.counts()
            await pool.close()
        return rows

    async def _sample(self, pool: ServerPool, limit: asyncio.Semaphore, index: int) -> dict:
        async with limit:  # the judgements of a sample one after another
            start = time.perf_counter()
            sample = self.samples[index]
            urls = await asyncio.to_thread(self.images, sample)  # file reads, decoding and base64 off the loop
            stats = Counter()
            parts = new_parts()
            extra = self.scheme.values(sample)
            for j, prompt in self.scheme.asked(sample):
                messages = to_openai(prompt.messages(sample, extra), urls)
                try:
                    await self._judge(pool, messages, j, sample.id, stats, parts)
                except ApiFailure as e:
                    parts["errors"][j.name] = str(e)
        row = {"id": sample.id, **result_row(self.scheme, parts, sample.item), "rank": 0, "index": index}
        row["seconds"] = round(time.perf_counter() - start, 4)
        row.update({f"api_{k}": stats[k] for k in ("requests", "retries", "prompt_tokens", "completion_tokens")})
        answered = sorted(k[1] for k in stats if isinstance(k, tuple) and k[0] == "model")
        row["api_model"] = ", ".join(answered) or None  # which judge answered, as the server names it
        if len(self.urls) > 1:
            tried = sorted({k[0] for k in stats if isinstance(k, tuple) and k[0] != "model"})
            row["api_servers"] = {u: {"requests": stats[u, "requests"], "failed": stats[u, "failed"]} for u in tried}
        return row

    async def _judge(self, pool, messages: list[dict], judgement, sample_id: str, stats: Counter, parts: dict):
        """Ask one judgement, and put its reply and scores into the sample's ``parts``."""
        if self.scheme.mode == "logits" and self.prefill:

            async def ask(chat: list[dict], extra: dict):
                return (await self._ask(pool, chat, stats, with_logprobs=True, extra=extra, max_tokens=1))[1]

            await judge_prefilled(ask, self.scheme, judgement, messages, self.token_ids, parts)
            return
        if self.scheme.mode == "logits":
            await self._judge_logprobs(pool, messages, judgement, stats, parts)
            return
        if self.scheme.samples > 1:  # a self-ensemble: each reply seeded by the sample, whatever else runs
            seeds = [reply_seed(self.seed, k, sample_id, judgement.name) for k in range(self.scheme.samples)]
            cut = {"top_p": self.scheme.top_p} if self.scheme.top_p < 1 else {}
            cut |= {"top_k": self.scheme.top_k} if self.scheme.top_k else {}  # vLLM's and SGLang's, not OpenAI's
            asked = [self._ask(pool, messages, stats, self.scheme.temperature, s, extra=cut or None) for s in seeds]
            replies = [reply for reply, _ in await asyncio.gather(*asked)]
            add_samples(parts, judgement.name, replies, [parse_reply(self.scheme, r, judgement.keys) for r in replies])
            return
        reply, _ = await self._ask(pool, messages, stats)
        parsed = parse_reply(self.scheme, reply, judgement.keys)
        for attempt in range(1, self.scheme.retries + 1):
            if not any(p.error == UNPARSEABLE for p in parsed.values()):
                break
            seed = zlib.crc32(f"{self.seed}:{attempt}:{sample_id}:{judgement.name}".encode())
            again, _ = await self._ask(pool, messages, stats, temperature=self.scheme.retry_temperature, seed=seed)
            better = parse_reply(self.scheme, again, judgement.keys)
            if not any(p.error == UNPARSEABLE for p in better.values()):
                reply, parsed = again, better
        add_reply(parts, judgement.name, reply, parsed)

    async def _judge_logprobs(self, pool, messages: list[dict], judgement, stats: Counter, parts: dict):
        reply, tokens = await self._ask(pool, messages, stats, with_logprobs=True)
        low, high = self.scheme.low, self.scheme.high
        dists = {key: logprobs.score_distribution(tokens, key, low, high) for key in judgement.keys}
        parsed = {k: Parsed(None, UNPARSEABLE) if d is None else Parsed(round(d.expected, 6)) for k, d in dists.items()}
        add_reply(parts, judgement.name, reply, parsed)
        for key, dist in dists.items():
            if dist is not None:
                add_distribution(parts, key, dist)

    async def _ask(self, pool, messages, stats: Counter, temperature=0.0, seed=None, with_logprobs=False, extra=None,
                   max_tokens=None):  # fmt: skip
        """One reply (the key masked, should the server quote it), and ``with_logprobs`` its tokens with their top
        alternatives; every try and retry counted, in all and per server. A failed try goes at once to a server that
        is up and has not failed this request yet, else it waits its backoff (or ``Retry-After``): servers that all
        answer 429 are not asked round and round."""
        failed_on, failed = None, []
        for attempt in range(self.cfg.max_retries + 1):
            stats["requests"] += 1
            stats["retries"] += attempt > 0
            ids = self.decode is not None and not with_logprobs  # the reply's token ids, decoded here
            fields = {**server_request.AS_IDS, **(extra or {})} if ids else extra
            async with pool.lease(avoid=failed_on) as server:
                stats[server.url, "requests"] += 1
                outcome = await ask_once(
                    server, self.cfg, self._key, messages, max_tokens or self.max_tokens, stats, temperature, seed,
                    with_logprobs or ids, fields, 0 if ids else server_request.TOP_LOGPROBS,
                )  # fmt: skip
            if isinstance(outcome, tuple):
                pool.succeeded(server)
                text, tokens, model = outcome
                self._note_model(server.url, model, stats)
                if ids and tokens:
                    text = self.decode(server_request.token_ids_of(tokens))
                return text.strip(), tokens  # as the local judge stores its replies
            why, wait, counts = outcome.why, outcome.wait, outcome.counts
            stats[server.url, "failed"] += 1
            if counts:  # a 429 is the server's queue, not a fault of the server
                pool.failed(server, why)
            failed_on = server
            failed.append(server)
            if attempt == self.cfg.max_retries:
                raise ApiFailure(f"{API_ERROR} {why} ({self.cfg.max_retries} retries)")
            if not pool.up_besides(failed):
                backoff = min(8.0, 0.5 * 2**attempt) * (0.75 + random.random() / 2)
                await asyncio.sleep(min(wait if wait is not None else backoff, float(self.cfg.max_retry_wait_s)))
        raise AssertionError("unreachable")

    def _note_model(self, url: str, model: str | None, stats: Counter) -> None:
        """Count the model that answered (the row's ``api_model``), and say once per server and model when it is
        not ``api.model``: two judges' scores must never mix unseen."""
        if model is None:
            return
        stats["model", model] += 1
        if model != self.cfg.model and (url, model) not in self._other_models:
            self._other_models.add((url, model))
            log.warning("api: %s answered as model %s, not api.model=%s; each row records the model that answered "
                        "(api_model), the summary counts them", url, escape(model), self.cfg.model)  # fmt: skip


def predict(cfg, scheme, samples: Sequence, digests: dict, out_dir, fp: str, *, api_cfg=None, rank: int = 0,
            **local) -> list[dict]:  # fmt: skip
    """``samples`` through the servers of ``api_cfg`` (default ``cfg.api``), each answered row into rank ``rank``'s
    shard at once, so a stopped or killed run loses only the requests in flight. ``local``: ``RemoteJudge``'s
    ``token_ids``, ``check`` and ``decode``, for servers of a local checkpoint."""
    from tqdm.auto import tqdm

    from evaluator.results.resume import ShardWriter
    from evaluator.runtime.logs import around_progress_bar

    api_cfg = api_cfg or cfg.api
    writer = ShardWriter(out_dir, fp, digests)
    writer.open(rank)
    images = FileImages(cfg.data, api_cfg.image_format)
    judge = RemoteJudge(api_cfg, scheme, samples, images, cfg.seed, **local)
    bar = tqdm(total=len(samples), desc="judging", unit="sample", dynamic_ncols=True, disable=rank != 0)
    start = time.perf_counter()
    with around_progress_bar(), bar:

        def done(row: dict) -> None:
            del row["index"]
            row["rank"] = rank
            if not server_request.failed_request(row):  # a request that failed for good is asked again by a rerun
                writer.write([row])
            bar.update(1)

        try:
            rows = judge.score(done)
        finally:
            writer.close()
            if len(judge.urls) > 1 and judge.servers:
                tries = ", ".join(f"{u} {c['requests']} ({c['failed']} failed)" for u, c in judge.servers.items())
                log.info("tries per server: %s", tries)
    took = time.perf_counter() - start
    log.info("scored %d samples in %.1f s (%.2f samples/s) through %s", len(rows), took, len(rows) / max(took, 1e-9),
             ", ".join(judge.urls))  # fmt: skip
    return rows
