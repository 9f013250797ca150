"""Logit scoring against numbers worked out by hand, on a tiny judge whose output head is set by hand
(to 1e-3: float32 and RMSNorm's epsilon).

Zeroing every layer's output projections leaves the last hidden state equal to the last token's embedding. Giving
the prefill's last token (the space after ``{"score":``) and the digit "1" orthogonal embeddings, and the output
head one column for each, fixes the next-token logits after the prompt (``first``) and after a "1" (``after_one``).
"""

import math

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText

from evaluator.inputs.samples import Sample
from evaluator.judge.loading import load_processor
from evaluator.judge.logits import scale_values, score_distributions
from evaluator.judge.qwen_vl import TINY_JUDGES, digit_token_ids
from evaluator.scoring.prompts import Collator
from evaluator.scoring.schemes import Scheme

from ..fixtures import judge_dict, model_cfg


def _set_head(model, last_token: int, one_token: int, first: torch.Tensor, after_one: torch.Tensor) -> None:
    lm = model.model.language_model
    hidden = lm.config.hidden_size
    with torch.no_grad():
        for layer in lm.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        lm.norm.weight.fill_(1.0)
        emb = model.get_input_embeddings().weight
        emb[last_token] = 0
        emb[last_token, 1] = 1.0
        emb[one_token] = 0
        emb[one_token, 0] = 1.0
        # RMS-normalising a one-hot vector gives sqrt(hidden) at its position.
        model.lm_head.weight.zero_()
        model.lm_head.weight[:, 1] = first / math.sqrt(hidden)
        model.lm_head.weight[:, 0] = after_one / math.sqrt(hidden)


@pytest.fixture(scope="module")
def judge():
    path = TINY_JUDGES.ensure_built("qwen3_vl")
    processor = load_processor(model_cfg(name_or_path=str(path)))
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32).eval()
    return model, processor


def _batch(processor, scale_min: int, scale_max: int):
    cfg = judge_dict("score10")
    scheme = Scheme.from_config({**cfg, "mode": "logits", "scale": {"min": scale_min, "max": scale_max}})
    items = [
        {
            "sample": Sample(id=str(i), source="s", edited="e", instruction="Make it blue" + "!" * i),
            "source": Image.new("RGB", (32 * (i + 1), 64)),
            "edited": Image.new("RGB", (64, 32 * (i + 1))),
        }
        for i in range(2)
    ]
    return Collator(processor, scheme)(items)


def _logits(vocab: int, digits: list[int], digit_logits: list[float], other: float = 0.0) -> torch.Tensor:
    out = torch.full((vocab,), other)
    out[digits] = torch.tensor(digit_logits)
    return out


def test_expected_score_on_0_to_10_uses_the_chain_rule_for_10(judge):
    model, processor = judge
    digits = digit_token_ids(processor.tokenizer)
    batch = _batch(processor, 0, 10)
    last = int(batch["inputs"]["input_ids"][0, -1])
    assert processor.tokenizer.decode([last]) == " "
    vocab = model.lm_head.weight.shape[0]
    first = _logits(vocab, digits, [0.0, 3.0, 1.0, 0.5, 0.0, 2.0, 0.0, 1.5, 2.5, 0.2], other=-1.0)
    after_one = _logits(vocab, digits, [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], other=0.5)
    _set_head(model, last, digits[1], first, after_one)

    p1, p2 = first.double().softmax(-1), after_one.double().softmax(-1)
    probs = {v: float(p1[digits[v]]) for v in range(10)}
    probs[1] = float(p1[digits[1]] * (1 - p2[digits].sum()))  # "1" then no further digit
    probs[10] = float(p1[digits[1]] * p2[digits[0]])  # "1" then "0"
    mass = sum(probs.values())
    expected = sum(v * p for v, p in probs.items()) / mass

    for d in score_distributions(model, batch["inputs"], digits, 0, 10):  # both rows, of different lengths
        assert d.confidence == pytest.approx(mass, rel=1e-3)
        assert d.expected == pytest.approx(expected, rel=1e-3)
        assert d.argmax == max(probs, key=probs.get)
        assert d.probs[10] == pytest.approx(probs[10], rel=1e-3)
        assert d.probs[1] == pytest.approx(probs[1], rel=1e-3)


def test_expected_score_on_1_to_5_is_one_forward_pass(judge):
    model, processor = judge
    digits = digit_token_ids(processor.tokenizer)
    batch = _batch(processor, 1, 5)
    vocab = model.lm_head.weight.shape[0]
    first = _logits(vocab, digits, [5.0, 0.0, 1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0], other=-2.0)
    _set_head(model, int(batch["inputs"]["input_ids"][0, -1]), digits[1], first, torch.zeros(vocab))
    calls = []
    generate = model.generate
    model.generate = lambda *a, **k: calls.append(1) or generate(*a, **k)
    try:
        [d, _] = score_distributions(model, batch["inputs"], digits, 1, 5)
    finally:
        model.generate = generate
    assert calls == []  # no extra decoding step on a single-digit scale
    p = first.double().softmax(-1)
    probs = {v: float(p[digits[v]]) for v in range(1, 6)}  # "0" is off the scale: its mass does not count
    assert d.confidence == pytest.approx(sum(probs.values()), rel=1e-3)
    assert d.expected == pytest.approx(sum(v * q for v, q in probs.items()) / sum(probs.values()), rel=1e-3)
    assert d.argmax == 4


def test_scale_checks():
    assert scale_values(0, 10) == list(range(11))
    with pytest.raises(ValueError, match="integer scale"):
        scale_values(0, 2.5)
