"""Everything specific to the Qwen-VL family of judges: supported checkpoints, how many tokens an image becomes,
the processor's pixel limits, digit tokens for logit scoring, and building tiny random judges for tests.

Another judge family means another module like this one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from evaluator.runtime.tiny import TinyModels

# The checkpoints' config.json model_type values this judge loads.
MODEL_TYPES = ("qwen3_vl", "qwen3_vl_moe", "qwen2_5_vl", "qwen2_vl")

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen's chat layout, reduced to what the judge sends: text and image parts in system/user/assistant turns.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "<|im_start|>{{ message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif part['type'] == 'text' -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "<|im_end|>{{ '\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>{{ 'assistant\\n' }}{%- endif -%}"
)

# Head dimension 32 gives 16 rotary frequencies, split over (time, height, width) by the mrope section; vLLM's CPU
# attention takes head sizes 32, 64, 80, ... (not 16), so the tiny judge also runs under vLLM.
_TEXT = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "max_position_embeddings": 4096,
    "rope_parameters": {
        "rope_type": "default",
        "rope_theta": 5_000_000.0,
        "mrope_section": [8, 4, 4],
        "mrope_interleaved": True,
    },
    "tie_word_embeddings": False,
}
_VISION = {
    "depth": 2,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_heads": 2,
    "patch_size": 16,
    "temporal_patch_size": 2,
    "spatial_merge_size": 2,
    "out_hidden_size": 64,
    "num_position_embeddings": 64,
    "deepstack_visual_indexes": [0, 1],
}
_MOE = {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32, "decoder_sparse_step": 1}

_QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# What the tokenizer learns its merges from: judge-prompt English, JSON replies and digits.
_CORPUS = (
    "You are a careful judge of image edits. The first image is the source image, the second image is the edited "
    "image. The edit instruction is given below. Judge how well the edited image follows the instruction, keeps "
    "everything else unchanged, and looks natural. Reply with a JSON object: "
    '{"reason": "the edit follows the instruction and the rest of the image is unchanged", "score": 7}. '
    "Score: 0 1 2 3 4 5 6 7 8 9 10 out of 10. Make the sky blue; turn the photo black and white; add a red frame."
)

TINY_SPECS: dict[str, dict] = {
    "qwen3_vl": {"arch": "qwen3_vl", "text": _TEXT, "vision": _VISION},
    "qwen3_vl_moe": {"arch": "qwen3_vl_moe", "text": {**_TEXT, **_MOE}, "vision": _VISION},
}

# Tiny images keep CPU tests fast: at most 256x256 pixels reach the vision tower (64 tokens an image).
_PROCESSOR_PIXELS = {"min_pixels": 32 * 32, "max_pixels": 256 * 256}


def build_tokenizer():
    """A byte-level BPE of a few hundred tokens with Qwen's special tokens and a Qwen-style chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Qwen's own split: among other things every digit is a token of its own, which logit scoring relies on.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [_CORPUS] * 4
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
    )


def build_processor(tokenizer, pixels: dict | None = None):
    """The Qwen3-VL processor around ``tokenizer``; by default with small pixel limits for fast CPU runs."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    pixels = pixels or _PROCESSOR_PIXELS
    image_processor = Qwen2VLImageProcessor(patch_size=16, temporal_patch_size=2, merge_size=2, **pixels)
    video_processor = Qwen3VLVideoProcessor(patch_size=16, temporal_patch_size=2, merge_size=2)
    return Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def build_config(spec: dict, tokenizer):
    """A Qwen3-VL (or -MoE) config from ``spec`` whose special-token ids match ``tokenizer``."""
    from transformers import Qwen3VLConfig, Qwen3VLMoeConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    text = {
        "vocab_size": len(tokenizer),  # a real shape may ask for the real vocabulary; the extra rows go unused
        **spec["text"],
        "pad_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "bos_token_id": ids["<|endoftext|>"],
    }
    config_cls = Qwen3VLMoeConfig if spec["arch"] == "qwen3_vl_moe" else Qwen3VLConfig
    config = config_cls(
        text_config=text,
        vision_config=spec["vision"],
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=spec["text"].get("tie_word_embeddings", False),
    )
    return config


def build_tiny_judge(spec: dict, folder: Path, seed: int = 0) -> None:
    """Write a random judge of ``spec``'s shape to ``folder`` as a ``from_pretrained``-loadable checkpoint."""
    import torch
    from transformers import AutoModelForImageTextToText, GenerationConfig

    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    config = build_config(spec, tokenizer)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=config.text_config.eos_token_id,
        pad_token_id=config.text_config.pad_token_id,
        do_sample=False,
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


def prepare_processor(processor):
    """Pad on the left, as batched generation needs."""
    processor.tokenizer.padding_side = "left"
    return processor


def limit_image_size(processor, max_pixels: int | None) -> None:
    """Cap the pixels of every image the judge sees (``data.max_pixels``): fewer visual tokens, faster, coarser."""
    if max_pixels:
        processor.image_processor.size = dataclasses.replace(
            processor.image_processor.size, longest_edge=int(max_pixels)
        )


@dataclasses.dataclass(frozen=True)
class PixelLayout:
    """How the image processor cuts an image into tokens: patch side, patches merged per token, pixel limits."""

    patch: int
    merge: int
    min_pixels: int
    max_pixels: int

    @classmethod
    def of(cls, processor) -> PixelLayout:
        ip = processor.image_processor
        return cls(ip.patch_size, ip.merge_size, ip.size["shortest_edge"], ip.size["longest_edge"])

    def image_tokens(self, width: int, height: int) -> int:
        """Language tokens of one image: one per merged patch, plus its start and end markers."""
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

        h, w = smart_resize(height, width, self.patch * self.merge, self.min_pixels, self.max_pixels)
        return (h // self.patch) * (w // self.patch) // self.merge**2 + 2


def digit_token_ids(tokenizer) -> list[int]:
    """Token ids of "0".."9"; Qwen's tokenizer writes every digit as a token of its own, which logit scoring needs."""
    ids = []
    for d in "0123456789":
        encoded = tokenizer.encode(d, add_special_tokens=False)
        if len(encoded) != 1:
            raise ValueError(f"logit scoring needs one token per digit; {d!r} is {encoded}")
        ids.append(encoded[0])
    return ids


def label_token_ids(tokenizer, labels) -> list[int]:
    """The first token of each verdict word (``A``, ``B``, ``tie``): what logit scoring reads after the pre-filled
    reply. Words that begin with the same token could not be told apart."""
    ids = [tokenizer.encode(str(word), add_special_tokens=False)[0] for word in labels]
    if len(set(ids)) != len(ids):
        raise ValueError(f"logit scoring needs verdict words that begin with different tokens; {list(labels)} do not")
    return ids


TINY_JUDGES = TinyModels("judge", "model", TINY_SPECS, build_tiny_judge, "config.json")
