"""Logit scoring: the judge's probability for every score on the scale, from pre-filled replies.

The reply is pre-filled up to where the score comes (``{"score": ``), so the next token is the score's first
digit. Qwen's tokenizer writes numbers one digit per token, so a two-digit score such as 10 needs one more
decoding step: P(10) = P("1") * P("0" | "1"), while P(1) = P("1") * P(no further digit | "1"). That step runs
through ``generate`` with the first token forced, which keeps Qwen3-VL's multimodal positions and KV cache right.

Single digits that begin no valid two-digit score take their first-token probability as they are.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from evaluator.scoring.logprobs import scale_values
from evaluator.scoring.rows import ScoreDistribution


class _ForceFirstToken(LogitsProcessor):
    """Make the first generated token ``token_id``; the raw logits are still what the model predicted."""

    def __init__(self, token_id: int, prompt_len: int):
        self.token_id = token_id
        self.prompt_len = prompt_len

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[1] != self.prompt_len:
            return scores
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.token_id] = 0
        return forced


@torch.inference_mode()
def label_distributions(model, inputs: dict, token_ids: list[int], values: list[float]) -> list[ScoreDistribution]:
    """The verdict distribution of every row of a batch whose replies are pre-filled up to the verdict word: each
    word's probability from its first token, renormalised over the words; ``expected`` is the mean value (for a
    pairwise verdict, the chance the edit shown first is better, a tie counting half)."""
    p_first = model(**inputs, logits_to_keep=1).logits[:, -1].float().softmax(-1)
    probs = p_first[:, torch.tensor(token_ids, device=p_first.device)].double().cpu()  # [batch, words]
    return _distributions(probs, values)


@torch.inference_mode()
def score_distributions(model, inputs: dict, digit_ids: list[int], low: float, high: float) -> list[ScoreDistribution]:
    """The score distribution of every row of a batch whose replies are pre-filled up to the score."""
    values = scale_values(low, high)
    leads = sorted({v // 10 for v in values if v >= 10})
    prompt_len = inputs["input_ids"].shape[1]
    next_digit: dict[int, torch.Tensor] = {}  # lead digit -> P(next token | lead digit), [batch, vocab]
    if not leads:
        first = model(**inputs, logits_to_keep=1).logits[:, -1]
    for lead in leads:
        out = model.generate(
            **inputs,
            max_new_tokens=2,
            min_new_tokens=2,
            do_sample=False,
            logits_processor=LogitsProcessorList([_ForceFirstToken(digit_ids[lead], prompt_len)]),
            output_logits=True,
            return_dict_in_generate=True,
        )
        first = out.logits[0]
        next_digit[lead] = out.logits[1].float().softmax(-1)
    p_first = first.float().softmax(-1)
    digits = torch.tensor(digit_ids, device=p_first.device)

    columns = []
    for v in values:
        if v >= 10:
            p = p_first[:, digits[v // 10]] * next_digit[v // 10][:, digits[v % 10]]
        elif v in next_digit:  # "1" is the whole score only if no digit follows it
            p = p_first[:, digits[v]] * (1 - next_digit[v][:, digits].sum(-1))
        else:
            p = p_first[:, digits[v]]
        columns.append(p)
    probs = torch.stack(columns, dim=-1).double().cpu()  # [batch, len(values)]
    return _distributions(probs, values)


def _distributions(probs: torch.Tensor, values: list[float]) -> list[ScoreDistribution]:
    """Each row of ``probs`` ([batch, values], float64 on the CPU, not renormalised) as a distribution over
    ``values``: the expected value renormalised over them, the most likely, and the mass they hold."""
    mass = probs.sum(-1)
    scale = torch.tensor(values, dtype=torch.float64)
    expected = (probs * scale).sum(-1) / mass.clamp_min(1e-300)
    return [
        ScoreDistribution(
            expected=float(expected[i]),
            argmax=values[int(probs[i].argmax())],
            confidence=float(mass[i]),
            probs={v: float(probs[i, k]) for k, v in enumerate(values)},
        )
        for i in range(probs.shape[0])
    ]
