"""Logit mode through a server that continues a pre-filled reply (``backend=vllm``; ``api.prefill=true``): the
local judge's own distributions, from the next token's log-probabilities.

The chat goes with the reply pre-filled up to the score (``judge.logits_prefix``) as an assistant message the
server continues (``continue_final_message``, no generation prompt: the same tokens the local judge sees), and one
token is asked for. For a scale with two-digit scores the reply is also pre-filled up to each leading digit ("1" of
"10"), and the next token then tells "10" from "1". Where the digits' and verdict words' token ids are known (vLLM,
whose tokenizer is the local checkpoint's) the server returns exactly those tokens' log-probabilities
(``logprob_token_ids``); else the digits among its top alternatives count, and a digit that is not among them counts
as 0.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable
from string import Template

from evaluator.scoring import logprobs
from evaluator.scoring.parsing import UNPARSEABLE, Parsed
from evaluator.scoring.rows import add_distribution, add_reply

# What a server that continues a message is asked besides the chat (vLLM's and SGLang's names).
CONTINUE = {"continue_final_message": True, "add_generation_prompt": False}
_TOKEN_ID = re.compile(r"token_id:(\d+)")


def request_extra(token_ids: dict[int, str] | None) -> dict:
    """The request's extra fields: continue the reply, and return these tokens' log-probabilities by id."""
    if not token_ids:
        return dict(CONTINUE)
    return {**CONTINUE, "logprob_token_ids": sorted(token_ids), "return_tokens_as_token_ids": True}


def next_token_probs(tokens: list[dict] | None, token_ids: dict[int, str] | None) -> dict[str, float]:
    """The probability of each alternative of the first generated token, by its text (stripped); a token sent as
    ``token_id:N`` takes its text from ``token_ids``."""
    if not tokens:
        return {}
    probs: dict[str, float] = {}
    for alt in tokens[0].get("top_logprobs") or []:
        text = alt.get("token") or ""
        m = _TOKEN_ID.fullmatch(text)
        if m and token_ids:
            text = token_ids.get(int(m.group(1)), "")
        lp = alt.get("logprob")
        if text.strip() and isinstance(lp, (int, float)) and math.isfinite(lp) and lp <= 1e-6:
            probs.setdefault(text.strip(), math.exp(min(lp, 0.0)))
    return probs


def label_probs(probs: dict[str, float], labels: dict[str, float]) -> dict[float, float]:
    """Each verdict word's probability from its first token's (a token that begins the word counts for it)."""
    out: dict[float, float] = {}
    for word, value in labels.items():
        starts = [t for t in probs if word.startswith(t)]
        out[value] = out.get(value, 0.0) + (probs[max(starts, key=len)] if starts else 0.0)
    return out


Ask = Callable[[list[dict], dict], Awaitable[list[dict] | None]]


async def judge_prefilled(ask: Ask, scheme, judgement, messages: list[dict], token_ids, parts: dict) -> None:
    """One judgement in logit mode: each key's distribution into the sample's ``parts``. ``ask(messages, extra)``
    is one request of one token with log-probabilities; it returns the reply's tokens."""
    extra = request_extra(token_ids)

    async def after(text: str) -> dict[str, float]:
        chat = [*messages, {"role": "assistant", "content": text}]
        return next_token_probs(await ask(chat, extra), token_ids)

    for key in judgement.keys:
        prefix = Template(scheme.logits_prefix).substitute(key=key)
        if scheme.labels:
            dist = logprobs.distribution_of(label_probs(await after(prefix), scheme.labels))
        else:
            leads = logprobs.leading_digits(scheme.low, scheme.high)
            first, *rest = await asyncio.gather(after(prefix), *(after(prefix + str(d)) for d in leads))
            dist = logprobs.prefilled_distribution(first, dict(zip(leads, rest, strict=True)), scheme.low, scheme.high)
        if dist is None:
            add_reply(parts, judgement.name, "", {key: Parsed(None, UNPARSEABLE)})
        else:
            add_distribution(parts, key, dist)
