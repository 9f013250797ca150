"""One try of one chat completion on one server, and what its failures mean: worth asking again (``Failed``), a
sample's error for good (``ApiFailure``), or the run's end (``JudgeUnavailable``: a wrong key, model or URL, or a
server without the logprobs logit mode needs). Messages a server writes are cut to one line, keys masked.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass

from evaluator.judge.server_http import (
    API_ERROR,
    ResponseTooLarge,
    cause,
    connection_problem,
    retry_after,
    usage_count,
)
from evaluator.runtime.errors import JudgeUnavailable
from evaluator.scoring import logprobs

TOP_LOGPROBS = 20  # the most OpenAI returns
AS_IDS = {"return_tokens_as_token_ids": True}  # vLLM's: each token of the reply as "token_id:N"


def token_ids_of(tokens: list[dict] | None) -> list[int]:
    """The ids of a reply's tokens sent as ``token_id:N``."""
    return [int(t["token"].removeprefix("token_id:")) for t in tokens or [] if t["token"].startswith("token_id:")]


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


def failed_request(row: dict) -> bool:
    """Whether a row's error is a request that failed (retries spent), not a reply: worth asking again."""
    return any(str(v).startswith(API_ERROR) or f": {API_ERROR}" in str(v) for k, v in row.items() if "error" in k and v)


class ApiFailure(Exception):
    """A request that failed for good (retries spent, or refused as malformed): this sample's error."""


@dataclass
class Failed:
    """A try worth asking again: why it failed, the wait the server asked for, and whether it counts against the
    server (a 429 does not)."""

    why: str
    wait: float | None = None
    counts: bool = True


async def ask_once(
    server, api_cfg, key: str | None, messages: list[dict], max_tokens: int, stats: Counter,
    temperature: float = 0.0, seed: int | None = None, with_logprobs: bool = False, extra: dict | None = None,
    top_logprobs: int = TOP_LOGPROBS,
):  # fmt: skip
    """One try on one server: ``(text, tokens, model)`` (the key masked, should the server quote it; ``tokens``
    with their top alternatives where ``with_logprobs``; ``model``: the model the server says answered), or a
    ``Failed`` try worth asking again; usage counted into ``stats``. ``extra``: fields beyond OpenAI's own (a
    pre-filled reply continued, ``evaluator.judge.server_prefill``).

    Raises:
        JudgeUnavailable: the server refused the key, the model or the URL, or sent no logprobs.
        ApiFailure: a failure that asking again cannot mend (a 4xx, a reply past the byte cap).
    """
    import openai

    try:
        raw = await asyncio.wait_for(
            server.client.chat.completions.with_raw_response.create(
                model=api_cfg.model, messages=messages, max_tokens=max_tokens, temperature=temperature,
                **({"seed": seed} if seed is not None else {}),
                **({"logprobs": True, "top_logprobs": top_logprobs} if with_logprobs else {}),
                **({"extra_body": extra} if extra else {}),
            ),
            timeout=api_cfg.timeout_s,  # the whole try: httpx's own timeout restarts with every byte
        )  # fmt: skip
        response = raw.parse()
        text = _masked(key, response.choices[0].message.content or "")
        tokens = logprobs.tokens_of(response.choices[0]) if with_logprobs else None
    except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
        raise JudgeUnavailable(refused_message(e, server.url, api_cfg.model, key)) from None
    except openai.APIStatusError as e:
        return _status_failure(e, server.url, key, with_logprobs, extra)
    except ResponseTooLarge as e:  # not worth asking again: the server ignores max_tokens
        raise ApiFailure(f"{API_ERROR} {e}") from None
    except (asyncio.TimeoutError, openai.APITimeoutError):
        return Failed(f"no complete reply within api.timeout_s={api_cfg.timeout_s:g}")
    except openai.APIConnectionError as e:
        if cause(e, ResponseTooLarge):
            raise ApiFailure(f"{API_ERROR} {cause(e, ResponseTooLarge)}") from None
        return Failed(connection_problem(e))
    except (openai.APIResponseValidationError, ValueError, AttributeError, IndexError, TypeError) as e:
        return Failed(f"unreadable response ({type(e).__name__})")
    if with_logprobs and tokens is None:
        raise JudgeUnavailable(
            f"api: {server.url} returned no logprobs for {api_cfg.model}; judge.mode=logits needs a "
            "server that returns them (judge.mode=generate works with any)"
        )
    usage = getattr(response, "usage", None)
    stats["prompt_tokens"] += usage_count(getattr(usage, "prompt_tokens", 0))
    stats["completion_tokens"] += usage_count(getattr(usage, "completion_tokens", 0))
    answered = getattr(response, "model", None)
    return text, tokens, answered if isinstance(answered, str) and answered else None


def _status_failure(e, url: str, key: str | None, with_logprobs: bool, extra: dict | None = None) -> Failed:
    """An error status other than 401, 403 and 404: a ``Failed`` try for 408, 409, 429 and 5xx.

    Raises:
        JudgeUnavailable: the server refuses the logprobs fields (``transformers serve``, for one, may), or the
            fields that continue a pre-filled reply (``api.prefill=true``).
        ApiFailure: any other 4xx: asking the same again cannot mend it.
    """
    message = str(getattr(e, "message", e))
    if extra and e.status_code in (400, 422) and any(k in message for k in (*extra, "continue", "extra")):
        raise JudgeUnavailable(
            f"api: {url} does not continue a pre-filled reply ({short_message(e, key)}); api.prefill=true needs a "
            "server that does (vLLM, SGLang); api.prefill=false reads the scores from a written reply"
        ) from None
    if with_logprobs and e.status_code in (400, 422) and "logprob" in str(getattr(e, "message", e)):
        raise JudgeUnavailable(
            f"api: {url} does not take logprobs ({short_message(e, key)}); "
            "judge.mode=logits needs a server that returns them (judge.mode=generate works with any)"
        ) from None
    if e.status_code not in (408, 409, 429) and e.status_code < 500:
        raise ApiFailure(f"{API_ERROR} {e.status_code} {short_message(e, key)}") from None
    why = f"{e.status_code} {short_message(e, key)}"
    return Failed(why, retry_after(e.response), counts=e.status_code not in (409, 429))


def _masked(key: str | None, text: str) -> str:
    return text.replace(key, "***") if key else text


def short_message(e, key: str | None = None) -> str:
    """The server's message, one line, with anything like a key masked (OpenAI quotes part of a wrong key)."""
    text = str(getattr(e, "message", e)).splitlines()[0][:200]
    if key:
        text = text.replace(key, "***")
    return re.sub(r"\b(sk|key)-[\w*-]{4,}", r"\1-***", text)


def refused_message(e, url: str, model: str, key: str | None) -> str:
    what = {401: "the key (api.key_env)", 403: "the key's access", 404: "api.model and api.base_url"}
    return (
        f"api: {url} answered {e.status_code} ({short_message(e, key)}); check "
        f"{what.get(e.status_code, 'the settings')} (api.model={model})"
    )
