"""KRIS-Bench's layout: each item asks what its category's script asks, with its images in the order the script
shows them, ids unique across categories, and a wrong item or folder ends in a counted problem."""

import json

import pytest

from evaluator.inputs.krisbench import CATEGORIES, read_krisbench
from evaluator.inputs.readers import read_samples
from evaluator.inputs.samples import Kind

from ..fixtures import KRISBENCH, data_cfg, make_krisbench


def _read(tmp_path, items=KRISBENCH, **keys):
    return read_samples(data_cfg(layout="krisbench", **make_krisbench(tmp_path, items), **keys))


def test_each_category_asks_its_scripts_prompts_with_its_images(tmp_path):
    loaded = _read(tmp_path)
    assert loaded.problems == [] and [s.id for s in loaded.missing] == ["count_change/3"]
    samples = {s.id: s for s in loaded.samples}
    assert len(CATEGORIES) == 20 and len(samples) == 10  # ids repeat across categories: the category keeps them apart
    common = samples["anomaly_correction/1"].extra["variants"]  # its abnormal prompt is never asked (quirk)
    assert common == {"consistency_score": "consist", "instruction_score": "instruction_following",
                      "dual_evaluation": None, "quality_score": "quality_as_original"}  # fmt: skip
    physics = samples["physics/1"]
    assert (
        physics.extra["variants"]["dual_evaluation"] == "dual_evaluation" and physics.extra["explain"] == "Ice floats."
    )
    assert physics.extra["variants"]["instruction_score"] is None
    view = samples["viewpoint_change/1"]
    assert view.reference.endswith("viewpoint_change/1_gt.jpg") and view.images == ("source", "edited", "reference")
    multi = samples["multi-element_composition/2"]
    assert multi.extra["variants"]["consistency_score"] == "consist_multi_3"
    assert [multi.image(r).rsplit("/", 1)[1] for r in ("source", "source2", "source3")] == [
        "2-1.jpg",
        "2-2.jpg",
        "2-3.jpg",
    ]
    frames = samples["temporal_prediction/2"]  # listed 3, 1, 4: shown in frame order, the generated one as frame 2
    assert frames.extra["frame"] == 2 and frames.extra["variants"]["instruction_score"] == "instruction_temporal_2"
    assert [frames.image(r).rsplit("/", 1)[1] for r in ("source", "source2", "source3")] == [
        "2-1.jpg",
        "2-3.jpg",
        "2-4.jpg",
    ]
    assert frames.reference is None  # its ground truth frame is never shown to the judge
    assert samples["count_change/2"].edited.endswith("results/editor/count_change/2.png")


@pytest.mark.parametrize(
    "fields, kind, words",
    [
        ({"ori_img": "../../etc/passwd"}, Kind.OUTSIDE_ROOT, "escapes"),
        ({"gt_img": "x.jpg"}, Kind.MISSING_FIELD, "missing ori_img"),
        ({"ori_img": ["1-1.jpg", "1-1.jpg", "1-3.jpg"], "gt_img": "1-2.jpg"}, Kind.BAD_VALUE, "not three of frames"),
        ({"ori_img": ["a.jpg", "b.jpg", "c.jpg"], "gt_img": "d.jpg"}, Kind.BAD_VALUE, "not three of frames"),
    ],
)
def test_an_item_its_script_cannot_judge_is_a_counted_problem(tmp_path, fields, kind, words):
    category = "temporal_prediction" if "gt_img" in fields else "color_change"
    items = [("color_change", "1", {"ori_img": "1.jpg"}, "[c5 i5]", True), (category, "9", fields, "[c1 i1]", True)]
    bench = tmp_path / "KRIS_Bench"
    layout = make_krisbench(tmp_path, [items[0]])
    (bench / category).mkdir(exist_ok=True)
    annotations = json.loads((bench / category / "annotation.json").read_text()) if category == "color_change" else {}
    annotations["9"] = {**fields, "ins_en": "Edit it."}
    (bench / category / "annotation.json").write_text(json.dumps(annotations))
    loaded = read_krisbench(data_cfg(layout="krisbench", **layout))
    assert [(p.id, p.kind) for p in loaded.problems] == [(f"{category}/9", kind)]
    assert words in loaded.problems[0].message and [s.id for s in loaded.samples] == ["color_change/1"]


def test_an_unknown_category_folder_or_a_missing_one_asked_for_is_a_problem_of_the_whole_input(tmp_path):
    layout = make_krisbench(tmp_path)
    (tmp_path / "KRIS_Bench" / "colour_change").mkdir()
    (tmp_path / "KRIS_Bench" / "colour_change" / "annotation.json").write_text("{}")
    loaded = read_krisbench(data_cfg(layout="krisbench", **layout, categories=["physics", "biology"]))
    assert sorted((p.row, p.id) for p in loaded.problems) == [(0, "biology"), (0, "colour_change")]
    assert {s.category for s in loaded.samples} == {"physics"}
    rows = [s.row for s in _read(tmp_path / "again").samples]
    assert len(set(rows)) == len(rows)  # rows count across categories: a problem names one item


def test_an_id_repeated_in_annotation_json_is_a_problem_not_a_silent_overwrite(tmp_path):
    layout = make_krisbench(tmp_path)
    path = tmp_path / "KRIS_Bench" / "count_change" / "annotation.json"
    text = path.read_text()
    path.write_text(text.replace('"2": {', '"1": {', 1))  # count_change has ids 1, 1, 3 now
    loaded = read_krisbench(data_cfg(layout="krisbench", **layout))
    assert [(p.id, p.kind) for p in loaded.problems] == [("count_change/1", Kind.DUPLICATE_ID)]
    assert "count_change/1" not in {s.id for s in loaded.samples + loaded.missing}
