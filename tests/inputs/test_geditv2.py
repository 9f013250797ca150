"""GEditBench v2's layout: every pair of the editors compared on every query, once, in its canonical order, with
the id its Elo script splits; its gallery's rules for which editors take part; mistakes as counted problems."""

import json

from evaluator.inputs.geditv2 import name_order
from evaluator.inputs.readers import read_samples
from evaluator.inputs.samples import Kind

from ..fixtures import GEDITV2_EDITORS, data_cfg, make_geditv2

ALL = list(GEDITV2_EDITORS)


def _read(keys, **extra):
    return read_samples(data_cfg(layout="geditv2", min_outputs=1, **keys, **extra))


def test_every_pair_once_in_its_canonical_order_and_a_missing_image_counted(tmp_path):
    loaded = _read(make_geditv2(tmp_path), editors=ALL)
    assert loaded.problems == []
    assert len(loaded.samples) + len(loaded.missing) == 8 * 6
    first = [s for s in loaded.samples + loaded.missing if s.extra["key"] == "color_alter_000000"]
    assert sorted(s.id for s in first) == sorted([
        "color_alter_000000_pair_FLUX2_dev_vs_my-editor_v2", "color_alter_000000_pair_FLUX2_dev_vs_Qwen_Image_Edit_2509",
        "color_alter_000000_pair_FLUX2_dev_vs_Qwen_Image_Edit_2511",
        "color_alter_000000_pair_my-editor_v2_vs_Qwen_Image_Edit_2509",
        "color_alter_000000_pair_my-editor_v2_vs_Qwen_Image_Edit_2511",
        "color_alter_000000_pair_Qwen_Image_Edit_2509_vs_Qwen_Image_Edit_2511",
    ])  # fmt: skip
    pair = next(s for s in first if s.id.endswith("FLUX2_dev_vs_my-editor_v2"))
    assert pair.edited.endswith("FLUX2_dev/color_alter_000000.png")
    assert pair.second.endswith("my-editor_v2/color_alter_000000.png")  # not listed: found where its outputs lie
    assert (pair.category, pair.extra["editor_a"], pair.extra["editor_b"]) == (
        "color_alter",
        "FLUX2_dev",
        "my-editor_v2",
    )
    assert sorted({s.id.split("_pair_")[0] for s in loaded.missing}) == ["subject-add_000003"]  # a listed file absent
    assert len(loaded.missing) == 3
    assert name_order("model-2509") < name_order("model-2511") < name_order("model_v10") and name_order(
        "2x"
    ) < name_order("x")


def test_by_default_every_listed_editor_and_few_outputs_leave_one_out(tmp_path, caplog):
    keys = make_geditv2(tmp_path)
    listed = _read(keys)  # the metadata lists three editors; my-editor_v2 only lies in the gallery
    assert {s.extra["editor_a"] for s in listed.samples} | {s.extra["editor_b"] for s in listed.samples} == set(ALL[:3])
    few = read_samples(data_cfg(layout="geditv2", **keys, editors=ALL, min_outputs=8))  # 8 outputs each (one 7)
    assert "Qwen_Image_Edit_2511" not in {s.extra["editor_b"] for s in few.samples} and few.problems == []
    [problem] = read_samples(data_cfg(layout="geditv2", **keys, editors=ALL, min_outputs=9)).problems
    assert "0 editor(s) to compare" in problem.message and "Qwen_Image_Edit_2511 (7)" in problem.message


def test_a_wrong_editor_or_key_is_a_counted_problem(tmp_path):
    keys = make_geditv2(tmp_path)
    loaded = _read(keys, editors=["FLUX2_dev", "nobody", "bad_vs_name"])
    assert sorted((p.id, p.kind) for p in loaded.problems) == [("bad_vs_name", Kind.BAD_VALUE), ("nobody", Kind.FILE)]
    assert all(p.row == 0 for p in loaded.problems)  # the configuration itself: the run stops before any judge
    (tmp_path / "gallery" / "metadata.jsonl").write_text('{"key": "x"}\n')
    [problem] = _read(keys, editors=ALL).problems
    assert problem.kind == Kind.FILE and "line 1" in problem.message
    (tmp_path / "gallery" / "metadata.jsonl").write_text(json.dumps({"key": "color_alter_000000", "candidates": [
        {"model": "FLUX2_dev", "image": "../../outside.png"}]}) + "\n")  # fmt: skip
    [problem] = _read(keys, editors=ALL).problems
    assert (problem.row, problem.kind) == (1, Kind.OUTSIDE_ROOT) and "outside" in problem.message
