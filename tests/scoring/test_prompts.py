import pytest
from PIL import Image

from evaluator.inputs.samples import Sample
from evaluator.judge.loading import load_processor
from evaluator.scoring.prompts import Collator, Prompt
from evaluator.scoring.schemes import Scheme

from ..fixtures import judge_dict, model_cfg

SCORE10 = judge_dict("score10")
PROMPT10 = {"system": SCORE10["system"], "user": SCORE10["judgements"][0]["user"]}


def _sample(instruction="Make the sky blue."):
    return Sample(id="x", source="s.png", edited="e.png", instruction=instruction, category="color")


def test_score10_messages_show_source_then_edit_then_instruction():
    prompt = Prompt.from_config(PROMPT10)
    assert prompt.images == ["source", "edited"]
    system, user = prompt.messages(_sample())
    assert system["role"] == "system" and "judge" in system["content"]
    kinds = [p["type"] for p in user["content"]]
    assert kinds == ["text", "image", "text", "image", "text"]
    assert 'Edit instruction: "Make the sky blue."' in user["content"][-1]["text"]
    assert '{"reason":' in user["content"][-1]["text"]  # JSON braces need no escaping


@pytest.mark.parametrize(
    ("part", "match"),
    [({"image": "mask"}, "image: source|edited"), ({"text": "Hi $nickname"}, "nickname"), ({"txt": "x"}, "text")],
)
def test_bad_prompt_parts_fail_at_load(part, match):
    with pytest.raises((ValueError, KeyError), match=match):
        Prompt.from_config({"system": "s", "user": [part]})


def test_collator_left_pads_and_expands_image_tokens():
    processor = load_processor(model_cfg())
    collate = Collator(processor, Scheme.from_config(SCORE10))
    items = [
        {"sample": _sample(), "source": Image.new("RGB", (64, 64)), "edited": Image.new("RGB", (64, 64))},
        {
            "sample": _sample("Add a thick red border around the whole image, please."),
            "source": Image.new("RGB", (128, 96)),
            "edited": Image.new("RGB", (128, 96)),
        },
    ]
    batch = collate(items)
    assert batch["id"] == ["x", "x"]
    ids, mask = batch["inputs"]["input_ids"], batch["inputs"]["attention_mask"]
    assert ids.shape[0] == 2 and mask[:, -1].tolist() == [1, 1]  # left padding: every row ends with a real token
    assert mask[0, 0] == 0  # the shorter prompt is padded on the left
    image_token = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # 64x64 pixels -> 4x4 patches of 16 -> 2x2 after the 2x2 merge: 4 tokens an image; 128x96 -> 8x6 -> 12.
    assert (ids == image_token).sum(dim=1).tolist() == [8, 24]
    assert batch["inputs"]["image_grid_thw"].tolist() == [[1, 4, 4], [1, 4, 4], [1, 6, 8], [1, 6, 8]]


def _items():
    return [
        {"sample": _sample(), "source": Image.new("RGB", (64, 64)), "edited": Image.new("RGB", (64, 64))}
        for i in range(2)
    ]


def test_collator_rows_per_judgement_and_prefilled_keys_in_logits_mode():
    processor = load_processor(model_cfg())
    viescore = judge_dict("viescore")
    batch = Collator(processor, Scheme.from_config(viescore))(_items())
    assert batch["rows"] == [(0, "SC", None), (0, "PQ", None), (1, "SC", None), (1, "PQ", None)]
    assert batch["images_per_row"] == [2, 1, 2, 1]
    batch = Collator(processor, Scheme.from_config({**viescore, "mode": "logits"}))(_items())
    assert [r[2] for r in batch["rows"][:4]] == ["editing", "overediting", "naturalness", "artifacts"]
    text = processor.tokenizer.decode(batch["inputs"]["input_ids"][1])
    assert text.endswith('<|im_start|>assistant\n{"overediting": ')
