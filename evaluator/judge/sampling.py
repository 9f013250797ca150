"""Sampled replies that do not depend on the batch (a self-ensemble's, ``judge.samples``): each row draws from its
own seed, so a rerun, a resume and any number of ranks give every sample the same replies.

Sampling at temperature T is greedy decoding over ``logits / T`` plus Gumbel noise (the Gumbel-max trick); the
noise of each row and step comes from a generator seeded by the row's seed and the step.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor


class SeededSampling(LogitsProcessor):
    """Turns greedy decoding into sampling at ``temperature``, row ``i`` drawing from ``seeds[i]``."""

    def __init__(self, seeds: list[int], temperature: float, prompt_len: int):
        self.seeds = seeds
        self.temperature = temperature
        self.prompt_len = prompt_len

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_len
        out = scores.float() / self.temperature
        for i, seed in enumerate(self.seeds):
            generator = torch.Generator(device=scores.device).manual_seed((seed * 1_000_003 + step) % 2**63)
            u = torch.rand(scores.shape[1], generator=generator, device=scores.device).clamp_(1e-20, 1 - 1e-7)
            out[i] -= torch.log(-torch.log(u))
        return out
