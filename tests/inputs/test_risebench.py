"""RISEBench's layout: each item asks what its gpt_eval.py asks (the prompt of each judgement, or none), weighs
as its calculate_score weighs (its pandas quirks included), and a wrong item ends in a counted problem."""

import json

import pytest

from evaluator.inputs.readers import read_samples
from evaluator.inputs.risebench import choose_prompts, score_weights
from evaluator.inputs.samples import Kind
from evaluator.scoring.risebench import FREE_WEIGHTS, LOGICAL_WEIGHTS, STANDARD_WEIGHTS

from ..fixtures import RISEBENCH, data_cfg, make_risebench

# Each fixture item: the prompt of (consistency, reasoning, plausibility) its script asks, and its weights. Items
# without consistency_free are weighed as consistency-free, as the script's table has the column (NaN is true).
EXPECTED = {
    "temporal_reasoning_1": (("consist", "reasoning", "generation"), FREE_WEIGHTS),
    "temporal_reasoning_2": (("consist", "reasoning_w_input", "generation"), FREE_WEIGHTS),
    "causal_reasoning_1": ((None, "reasoning", "generation"), FREE_WEIGHTS),
    "causal_reasoning_2": (("consist", "reasoning", "generation"), FREE_WEIGHTS),
    "spatial_reasoning_1": (("spatial_cons_ref_img", "spatial_ref_img", "spatial_qual"), FREE_WEIGHTS),
    "spatial_reasoning_2": (("spatial_cons", "spatial_ref_w_input", "spatial_qual"), FREE_WEIGHTS),
    "spatial_reasoning_3": ((None, "spatial_ref", "spatial_qual"), STANDARD_WEIGHTS),  # False: asked out, weighed in
    "logical_reasoning_1": (("logical_cons_ans", "logical_txt", None), LOGICAL_WEIGHTS),
    "logical_reasoning_2": (("logical_cons", "logical_img_wo_q", None), LOGICAL_WEIGHTS),  # another item's column
    "logical_reasoning_3": (("logical_cons", "logical_img_wo_q", None), LOGICAL_WEIGHTS),
}


def _read(tmp_path, items=RISEBENCH):
    return read_samples(data_cfg(layout="risebench", **make_risebench(tmp_path, items)))


def test_each_item_asks_and_weighs_as_the_script_does(tmp_path):
    loaded = _read(tmp_path)
    assert loaded.problems == []
    assert [s.id for s in loaded.missing] == ["temporal_reasoning_3"]
    samples = {s.id: s for s in loaded.samples}
    for index, (prompts, weights) in EXPECTED.items():
        variants = samples[index].extra["variants"]
        assert (variants["ApprConsistency"], variants["Reasoning"], variants["VisualPlausibility"]) == prompts, index
        assert samples[index].extra["score_weights"] == weights, index
    assert samples["spatial_reasoning_1"].reference.endswith("spatial_reasoning_images/1_ref.png")
    assert samples["spatial_reasoning_2"].reference is None
    assert samples["spatial_reasoning_2"].edited.endswith("spatial_reasoning_2.jpg")  # found as its script finds it
    assert samples["logical_reasoning_1"].extra["reference_txt"] == "Left, then down [s1]."


def test_without_the_columns_nothing_is_consistency_free_and_the_question_stays():
    plain = [{"index": "t", "category": "temporal_reasoning", "reference": "r"},
             {"index": "l", "category": "logical_reasoning", "reference_img": "x.png"}]  # fmt: skip
    columns = {k for item in plain for k in item}
    assert score_weights(plain[0], columns) == STANDARD_WEIGHTS
    assert choose_prompts(plain[1], columns)[0]["Reasoning"] == "logical_img"
    assert score_weights({**plain[0], "consistency_free": None}, columns | {"consistency_free"}) == STANDARD_WEIGHTS


@pytest.mark.parametrize(
    "item, kind, words",
    [
        ({"category": "temporal_reasoning"}, Kind.MISSING_FIELD, "missing reference"),
        ({"category": "logical_reasoning"}, Kind.MISSING_FIELD, "reference_txt or reference_img"),
        ({"category": "logical_reasoning", "reference_txt": "a", "consistency_free": True}, Kind.BAD_VALUE,
         "no score for it"),
        ({"category": "surreal_reasoning", "reference": "r"}, Kind.BAD_VALUE, "none of RISEBench's"),
        ({"category": "temporal_reasoning", "reference": "r", "image": "../../etc/x.png"}, Kind.OUTSIDE_ROOT,
         "outside"),
        ({"category": "temporal_reasoning", "reference": "r", "index": "../up"}, Kind.OUTSIDE_ROOT, "plain"),
        ({"category": "temporal_reasoning", "reference": "r", "instruction": None}, Kind.MISSING_FIELD,
         "missing instruction"),
    ],
)  # fmt: skip
def test_an_item_the_script_cannot_judge_is_a_counted_problem(tmp_path, item, kind, words):
    good = {"index": "temporal_reasoning_1", "category": "temporal_reasoning", "instruction": "Age it.",
            "reference": "Old."}  # fmt: skip
    bad = {"index": "bad_1", "instruction": "x", "image": "temporal_reasoning_images/1.png", **item}
    make_risebench(tmp_path, [good])
    meta = tmp_path / "data" / "datav2.json"
    meta.write_text(json.dumps([*json.loads(meta.read_text()), bad]))
    loaded = read_samples(data_cfg(layout="risebench", metadata=str(meta), outputs=str(tmp_path / "outputs/editor")))
    assert [s.id for s in loaded.samples] == ["temporal_reasoning_1"]
    [problem] = loaded.problems
    assert (problem.row, problem.kind) == (2, kind) and words in problem.message


def test_a_repeated_index_and_an_unreadable_file_are_problems(tmp_path):
    item = {"index": "t_1", "category": "temporal_reasoning", "instruction": "x", "reference": "r"}
    make_risebench(tmp_path, [item, dict(item)])
    keys = {"metadata": str(tmp_path / "data" / "datav2.json"), "outputs": str(tmp_path / "outputs" / "editor")}
    loaded = read_samples(data_cfg(layout="risebench", **keys))
    assert [(p.row, p.kind) for p in loaded.problems] == [(2, Kind.DUPLICATE_ID)]
    (tmp_path / "data" / "datav2.json").write_text('{"index": "not a list"}')
    [problem] = read_samples(data_cfg(layout="risebench", **keys)).problems
    assert problem.kind == Kind.FILE and "not a JSON list" in problem.message
