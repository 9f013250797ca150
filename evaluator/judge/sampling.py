"""Sampled replies that do not depend on the batch (a self-ensemble's, ``judge.samples``): each row draws from its
own seed, so a rerun, a resume and any number of ranks give every sample the same replies.

Sampling at temperature T is greedy decoding over ``logits / T`` plus Gumbel noise (the Gumbel-max trick); the
noise of each row and step comes from a generator seeded by the row's seed and the step. ``top_k`` and ``top_p``
first leave out the tokens transformers' own warpers would (the k most likely; the smallest set of most likely
tokens whose probability reaches p), as EditScore samples (top-k 20, top-p 0.9).
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor


class SeededSampling(LogitsProcessor):
    """Turns greedy decoding into sampling at ``temperature``, row ``i`` drawing from ``seeds[i]``."""

    def __init__(self, seeds: list[int], temperature: float, prompt_len: int, top_p: float = 1.0, top_k: int = 0):
        self.seeds = seeds
        self.temperature = temperature
        self.prompt_len = prompt_len
        self.top_p = top_p
        self.top_k = top_k

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_len
        out = truncated(scores.float() / self.temperature, self.top_p, self.top_k)
        for i, seed in enumerate(self.seeds):
            generator = torch.Generator(device=scores.device).manual_seed((seed * 1_000_003 + step) % 2**63)
            u = torch.rand(scores.shape[1], generator=generator, device=scores.device).clamp_(1e-20, 1 - 1e-7)
            out[i] -= torch.log(-torch.log(u))
        return out


def truncated(logits: torch.Tensor, top_p: float = 1.0, top_k: int = 0) -> torch.Tensor:
    """``logits`` (rows of a vocabulary) with the tokens outside the top ``top_k`` and outside the nucleus
    ``top_p`` set to minus infinity; the most likely token always stays."""
    if top_k and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        beyond = probs.cumsum(dim=-1) - probs >= top_p  # the mass before the token already reached p
        logits = logits.masked_fill(beyond.scatter(-1, order, beyond), float("-inf"))
    return logits
