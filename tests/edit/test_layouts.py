"""The editing stage writes each layout the judge reads: GEdit-Bench's, ImgEdit-Bench's, RISEBench's and KRIS-Bench's
results folders, and a manifest's folder; the judge then finds every row, and says which editor made the edits."""

import json

import pytest
from PIL import Image

from evaluator.config.compose import compose
from evaluator.edit import layouts
from evaluator.edit.checks import check_edit, check_pipeline
from evaluator.edit.stage import run
from evaluator.inputs import readers
from evaluator.runtime.errors import ConfigError

from ..fixtures import (
    GEDIT_ROWS,
    KRISBENCH,
    RISEBENCH,
    data_cfg,
    make_gedit,
    make_geditv2,
    make_imgedit,
    make_krisbench,
    make_risebench,
)

EDIT = ["editor=tiny", "trainer=cpu", "data.num_workers=0"]


def test_gedit_edits_land_where_gedit_bench_and_the_judge_read_them(tmp_path, restore_environ):
    layout = make_gedit(tmp_path)  # "mymodel" has edits already; the tiny editor writes its own beside them
    keys = [f"data.{k}={v}" for k, v in layout.items() if k != "model_name"]
    out = run(compose([*EDIT, "data=gedit", *keys, "data.model_name=tiny_editor"], "edit"))
    assert out == tmp_path / "results" / "tiny_editor"  # the layout's own folder holds the run's records
    for key, task, lang, _, _ in GEDIT_ROWS:
        folder = out / "fullset" / task / lang
        assert (folder / f"{key}.png").is_file() and (folder / f"{key}_SRCIMG.png").is_file()
        assert Image.open(folder / f"{key}_SRCIMG.png").size == (64, 48)  # the benchmark's source, as it is
    judged = readers.read_gedit(data_cfg(layout="gedit", **{**layout, "model_name": "tiny_editor"}))
    assert len(judged.samples) == len(GEDIT_ROWS) and judged.missing == [] and judged.problems == []
    assert all(s.source.endswith("_SRCIMG.png") for s in judged.samples)
    assert layouts.record_of(data_cfg(layout="gedit", **{**layout, "model_name": "tiny_editor"})) is not None
    rows = [json.loads(x) for x in (out / "edits.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"{k}/{lang}" for k, _, lang, _, _ in GEDIT_ROWS]


def test_a_folder_of_other_edits_is_never_overwritten_unasked(tmp_path, restore_environ):
    from evaluator.runtime.errors import ConfigError

    layout = make_gedit(tmp_path)
    keys = [*EDIT, "data=gedit", *(f"data.{k}={v}" for k, v in layout.items() if k != "model_name"), "data.limit=1"]
    theirs = tmp_path / "results" / "mymodel" / "fullset" / "color_alter" / "en" / "g0.png"
    before = theirs.read_bytes()
    with pytest.raises(ConfigError, match=r"1 edit\(s\) already lie where this run would write.*did not make them"):
        run(compose([*keys, "data.model_name=mymodel"], "edit"))  # another script's edits of that name
    assert theirs.read_bytes() == before
    run(compose([*keys, "data.model_name=ed"], "edit"))
    with pytest.raises(ConfigError, match="holds edits made with other editor settings"):
        run(compose([*keys, "data.model_name=ed", "editor.num_inference_steps=3"], "edit"))


def test_imgedit_edits_are_read_by_the_judge(tmp_path, restore_environ):
    layout = make_imgedit(tmp_path)
    edits = tmp_path / "tiny_edits"
    args = [f"data.metadata={layout['metadata']}", f"data.sources={layout['sources']}", f"data.edits={edits}"]
    assert run(compose([*EDIT, "data=imgedit", *args], "edit")) == edits
    assert sorted(p.name for p in edits.glob("*.png")) == ["i0.png", "i1.png", "i2.png", "i3.png"]
    judged = readers.read_imgedit(data_cfg(layout="imgedit", **{**layout, "edits": str(edits)}))
    assert len(judged.samples) == 4 and judged.missing == []


def test_risebench_edits_land_where_its_script_and_the_judge_read_them(tmp_path, restore_environ):
    layout = make_risebench(tmp_path, model="other")  # another editor's outputs
    outputs = tmp_path / "outputs" / "tiny"
    args = [f"data.metadata={layout['metadata']}", f"data.outputs={outputs}"]
    assert run(compose([*EDIT, "data=risebench", *args], "edit")) == outputs
    made = sorted(str(p.relative_to(outputs)) for p in (outputs / "images").rglob("*.png"))
    assert made == sorted(f"images/{x['category']}/{x['index']}.png" for x in RISEBENCH)
    judged = readers.read_samples(data_cfg(layout="risebench", metadata=layout["metadata"], outputs=str(outputs)))
    assert len(judged.samples) == len(RISEBENCH) and judged.missing == [] and judged.problems == []
    assert layouts.record_of(data_cfg(layout="risebench", metadata=layout["metadata"], outputs=str(outputs)))


def test_krisbench_edits_land_where_its_scripts_and_the_judge_read_them(tmp_path, restore_environ):
    layout = make_krisbench(tmp_path)
    outputs = tmp_path / "results" / "tiny"
    args = [f"data.metadata={layout['metadata']}", f"data.outputs={outputs}"]
    assert run(compose([*EDIT, "data=krisbench", *args], "edit")) == outputs
    one_image = [f"{c}/{k}.png" for c, k, fields, _, _ in KRISBENCH if isinstance(fields["ori_img"], str)]
    assert sorted(str(p.relative_to(outputs)) for p in outputs.rglob("*.png")) == sorted(one_image)
    judged = readers.read_samples(data_cfg(layout="krisbench", metadata=layout["metadata"], outputs=str(outputs)))
    assert {s.id for s in judged.missing} == {"multi-element_composition/1", "multi-element_composition/2",
                                              "temporal_prediction/1", "temporal_prediction/2"}  # fmt: skip


def test_geditv2_edits_join_its_gallery_and_the_metadata_its_evaluation_reads(tmp_path, restore_environ):
    layout = make_geditv2(tmp_path, queries=4)
    args = [f"data.metadata={layout['metadata']}", f"data.gallery={layout['gallery']}"]
    assert (
        run(compose([*EDIT, "data=geditv2", *args, "data.editors=[tiny_one]"], "edit"))
        == tmp_path / "gallery" / "tiny_one"
    )
    keys = ["color_alter_000000", "subject-add_000001", "color_alter_000002", "subject-add_000003"]
    assert sorted(p.stem for p in (tmp_path / "gallery" / "tiny_one").glob("*.png")) == sorted(keys)
    merged = [json.loads(x) for x in (tmp_path / "gallery" / "metadata_tiny_one.jsonl").read_text().splitlines()]
    assert all({"model": "tiny_one", "image": f"tiny_one/{m['key']}.png"} in m["candidates"] for m in merged)
    judged = readers.read_samples(
        data_cfg(layout="geditv2", min_outputs=1, **layout, editors=["FLUX2_dev", "tiny_one"])
    )
    assert len(judged.samples) == 4 and judged.problems == []
    with pytest.raises(ConfigError, match="data=geditv2 edits as one editor"):
        check_edit(compose([*EDIT, "data=geditv2", *args, "data.editors=[a,b]", f"out_dir={tmp_path / 'x'}"], "edit"))
    with pytest.raises(ConfigError, match=r"evaluator\.pipeline edits and judges one"):
        check_pipeline(compose(["model=tiny", *EDIT, "data=geditv2", *args, "data.editors=[a]"], "pipeline"))


def test_a_bad_row_keeps_its_place_in_the_new_manifest(tmp_path, restore_environ):
    from ..conftest import DEMO_MANIFEST

    rows = [json.loads(x) for x in DEMO_MANIFEST.read_text().splitlines()][:3]
    for r in rows:
        r["source"] = str(DEMO_MANIFEST.parent / r["source"])
        del r["edited"]  # the editing stage needs no edited column
    rows[1]["source"] = str(tmp_path / "gone.png")
    rows[2]["instruction"] = "x" * 200_000
    manifest = tmp_path / "rows.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = run(compose([*EDIT, "data=manifest", f"data.path={manifest}", "data.allow_outside_root=true",
                       f"out_dir={tmp_path}/out"], "edit"))  # fmt: skip
    new = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["id"] for r in new] == [r["id"] for r in rows]
    assert "edit_error" not in new[0] and (out / new[0]["edited"]).is_file()
    assert new[1]["edit_error"].startswith("skipped: source image not found")
    assert new[2]["edit_error"] == "skipped: instruction too long"
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["edited"], summary["failed"]) == (1, 2)
