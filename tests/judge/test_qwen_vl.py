"""The Qwen-VL adapter: its token counts must be what the real processor produces."""

import pytest
from PIL import Image

from evaluator.judge import qwen_vl
from evaluator.runtime.sampler import CostModel

# Qwen3-VL's own pixel limits: a 1024x1024 image gives 1,024 visual tokens.
REAL_PIXELS = {"min_pixels": 65536, "max_pixels": 16777216}


@pytest.fixture(scope="module")
def processor():
    return qwen_vl.build_processor(qwen_vl.build_tokenizer(), REAL_PIXELS)


@pytest.mark.parametrize("size", [(1024, 1024), (512, 512), (1280, 720), (333, 517), (200, 150), (3000, 64)])
def test_image_tokens_match_the_processor(processor, size):
    layout = qwen_vl.PixelLayout.of(processor)
    chat = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}], tokenize=False
    )
    inputs = processor(text=[chat], images=[[Image.new("RGB", size)]], return_tensors="pt")
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    counted = int((inputs["input_ids"] == image_pad).sum())
    assert layout.image_tokens(*size) == counted + 2  # plus the vision start and end markers


def test_max_pixels_caps_the_tokens_the_processor_makes():
    processor = qwen_vl.build_processor(qwen_vl.build_tokenizer(), REAL_PIXELS)
    qwen_vl.limit_image_size(processor, 512 * 512)
    inputs = processor.image_processor(images=[Image.new("RGB", (1024, 1024))], return_tensors="pt")
    assert inputs["image_grid_thw"].prod().item() // 4 == 256  # 512x512 px worth of tokens, not 1,024
    assert qwen_vl.PixelLayout.of(processor).image_tokens(1024, 1024) == 256 + 2


def test_cost_model_adds_images_text_and_decoding(processor):
    from types import SimpleNamespace

    judgements = [SimpleNamespace(prompts=[SimpleNamespace(images=["source", "edited"], parts=[{"text": "x" * 400}])])]
    model = CostModel(qwen_vl.PixelLayout.of(processor), judgements, decode_tokens=128)
    big = model.cost({"source": (1024, 1024), "edited": (1024, 1024)})
    assert big == 2 * 1026 + 100 + 128
    assert model.cost({"source": (512, 512), "edited": (512, 512)}) == 2 * 258 + 100 + 128


def test_digits_are_single_tokens():
    tokenizer = qwen_vl.build_tokenizer()
    ids = qwen_vl.digit_token_ids(tokenizer)
    assert len(set(ids)) == 10 and [tokenizer.decode([i]) for i in ids] == list("0123456789")
