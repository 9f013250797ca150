import pytest
from PIL import Image

from evaluator.inputs import readers
from evaluator.inputs.samples import Kind
from evaluator.results.plan import merge_rows
from evaluator.runtime.dataset import PairDataset
from evaluator.runtime.errors import DataError

from ..fixtures import GEDIT_ROWS, data_cfg, make_gedit, make_imgedit, plan_of


@pytest.mark.parametrize("arrow", [False, True], ids=["parquet", "save_to_disk"])
def test_gedit_layout(tmp_path, arrow):
    cfg = data_cfg(layout="gedit", language="all", **make_gedit(tmp_path, arrow))
    loaded = readers.read_samples(cfg)
    assert loaded.problems == []
    assert [s.id for s in loaded.samples] == ["g0/en", "g0/cn", "g1/en", "g1/cn"]  # one id per key and language
    assert [s.id for s in loaded.missing] == ["g2/en"]
    g0 = loaded.samples[1]
    assert (g0.category, g0.language, g0.extra) == ("color_alter", "cn", {"key": "g0", "intersection": True})
    assert g0.edited.endswith("results/mymodel/fullset/color_alter/cn/g0.png")
    assert Image.open(g0.source).size == (64, 48)  # the embedded source, written out once
    # Rows of one key whose embedded images differ do not share a cached file.
    assert loaded.samples[0].source != g0.source
    # As GEdit-Bench does, the edit is judged at the source's size.
    item = PairDataset(loaded.samples, resize_edited=True)[0]
    assert item["edited"].size == item["source"].size == (64, 48)
    assert PairDataset(loaded.samples)[0]["edited"].size == (32, 32)


def test_gedit_language_filter(tmp_path):
    cfg = data_cfg(layout="gedit", language="cn", **make_gedit(tmp_path))
    loaded = readers.read_samples(cfg)
    assert [s.id for s in loaded.samples + loaded.missing] == [
        f"{k}/cn" for k, _, lang, _, _ in GEDIT_ROWS if lang == "cn"
    ]


def test_gedit_source_saved_beside_the_edit_is_the_one_judged(tmp_path):
    paths = make_gedit(tmp_path)
    saved = tmp_path / "results" / "mymodel" / "fullset" / "color_alter" / "en" / "g0_SRCIMG.png"
    Image.new("RGB", (40, 30), (1, 2, 3)).save(saved)
    loaded = readers.read_samples(data_cfg(layout="gedit", **paths))
    assert loaded.samples[0].source == str(saved)  # as GEdit-Bench's scorer reads it
    assert loaded.samples[1].source != str(saved)  # the Chinese row has none saved: the metadata's image


def test_limit_spreads_over_the_categories(tmp_path):
    cfg = data_cfg(layout="gedit", limit=3, **make_gedit(tmp_path))
    loaded = readers.read_samples(cfg)
    # background_change first (sorted), then color_alter, then background_change's second sample.
    assert sorted(s.id for s in loaded.samples + loaded.missing) == ["g0/en", "g1/cn", "g1/en"]
    assert readers.read_samples(cfg).samples == loaded.samples  # deterministic


def test_imgedit_layout_and_missing_edit_rows(tmp_path):
    plan = plan_of(data_cfg(layout="imgedit", **make_imgedit(tmp_path)))
    assert plan.skipped == []
    assert [(s.id, s.category) for s in plan.todo] == [("i0", "add"), ("i1", "remove"), ("i2", "background")]
    assert plan.todo[0].source == str(tmp_path / "src" / "animals" / "cat.jpg")
    assert [s.id for s in plan.missing] == ["i3"]
    shards = [[{"id": s.id, "score": 3.0, "error": None, "rank": 0} for s in plan.todo]]
    rows = merge_rows(shards, plan)
    assert [r["id"] for r in rows] == ["i0", "i1", "i2", "i3"]  # input order, missing edit included
    assert rows[3]["error"] == "missing edit" and rows[3]["score"] is None


def test_an_imgedit_key_repeated_in_its_json_is_a_problem_not_a_silent_overwrite(tmp_path):
    paths = make_imgedit(tmp_path)
    meta = tmp_path / "basic_edit.json"
    meta.write_text(meta.read_text().replace('"i1": {', '"i0": {', 1))  # i0 twice: json keeps the second silently
    loaded = readers.read_samples(data_cfg(layout="imgedit", **paths))
    assert [(p.id, p.kind) for p in loaded.problems] == [("i0", Kind.DUPLICATE_ID)]
    assert sorted(s.id for s in loaded.samples + loaded.missing) == ["i2", "i3"]


def test_missing_source_is_a_problem_not_a_missing_edit(tmp_path):
    paths = make_imgedit(tmp_path)
    (tmp_path / "src" / "street.jpg").unlink()
    with pytest.raises(DataError) as err:
        plan_of(data_cfg(layout="imgedit", on_error="fail", **paths))
    assert sorted((p.id, p.message.split(":")[0]) for p in err.value.problems) == [
        ("i2", "source image not found"),
        ("i3", "source image not found"),
    ]


def test_unreadable_metadata_is_reported(tmp_path):
    cfg = data_cfg(layout="gedit", metadata=str(tmp_path / "none"), results_root=str(tmp_path), model_name="m")
    with pytest.raises(DataError, match="GEdit-Bench metadata unreadable") as err:
        plan_of(cfg)
    [problem] = err.value.problems
    assert problem.row == 0 and str(tmp_path / "none") in problem.message
