"""Reading a pairs file (data=pairs): a sample per order shown or per edit, checked and digested like any sample."""

import json

import pytest
from PIL import Image

from evaluator.config.checks import check_judge
from evaluator.config.compose import compose
from evaluator.inputs.images import DEFAULT_LIMITS
from evaluator.inputs.pairs import read_pairs
from evaluator.inputs.preflight import check_share, merge
from evaluator.inputs.readers import Loaded, limit
from evaluator.runtime.errors import ConfigError


def _write(folder, rows, name="pairs.jsonl"):
    for level, image in enumerate(("s.png", "a.png", "b.png")):
        Image.new("RGB", (16, 16), (40 * level,) * 3).save(folder / image)
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROW = {"id": 7, "source": "s.png", "instruction": "Brighten it.", "edited_a": "a.png", "edited_b": "b.png",
       "category": "light", "model_a": "x", "human": "b"}  # fmt: skip


def test_a_pairwise_judge_gets_both_orders_and_a_pointwise_one_both_edits(tmp_path):
    path = _write(tmp_path, [ROW])
    samples, problems = read_pairs(path)
    assert problems == []
    assert [(s.id, s.edited, s.second, s.extra["order"]) for s in samples] == [
        ("7#AB", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "AB"),
        ("7#BA", str(tmp_path / "b.png"), str(tmp_path / "a.png"), "BA"),
    ]
    assert all(s.extra["pair_id"] == "7" and s.extra["human"] == "B" and s.extra["model_a"] == "x" for s in samples)
    assert all(s.category == "light" and s.row == 1 for s in samples)
    pointwise, _ = read_pairs(path, pairwise=False)
    assert [(s.id, s.edited, s.second, s.extra["candidate"]) for s in pointwise] == [
        ("7#A", str(tmp_path / "a.png"), None, "A"),
        ("7#B", str(tmp_path / "b.png"), None, "B"),
    ]


def test_the_digest_covers_which_edit_is_shown_first(tmp_path):
    samples, _ = read_pairs(_write(tmp_path, [ROW]))
    found = merge([check_share(samples, DEFAULT_LIMITS)], samples, DEFAULT_LIMITS)
    assert found.problems == [] and found.digests[0] != found.digests[1]
    assert set(found.sizes[0]) == {"source", "edited", "second"}


def test_bad_rows_are_problems_once_each(tmp_path):
    rows = [ROW, {**ROW, "id": 8, "human": "maybe"}, {**ROW, "id": 9, "edited_b": ""},
            {**ROW, "id": 10, "edited_a": "../outside.png"}]  # fmt: skip
    samples, problems = read_pairs(_write(tmp_path, rows))
    assert [s.id for s in samples] == ["7#AB", "7#BA"]
    assert [(p.row, p.id, p.kind.name) for p in problems] == [
        (2, "8", "BAD_VALUE"),
        (3, "9", "MISSING_FIELD"),
        (4, "10", "OUTSIDE_ROOT"),
    ]
    assert "human verdict is A, B or tie, not 'maybe'" in problems[0].message


def test_limit_keeps_a_pairs_samples_together(tmp_path):
    rows = [{**ROW, "id": i, "category": "c" + str(i % 2)} for i in range(5)]
    samples, _ = read_pairs(_write(tmp_path, rows))
    kept = limit(Loaded(samples), 3).samples
    assert len(kept) == 6 and len({s.extra["pair_id"] for s in kept}) == 3


def test_a_pairs_file_of_other_columns_is_one_line_before_anything_starts(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,source,instruction,edited,other\n1,s.png,x,a.png,b.png\n")
    with pytest.raises(ConfigError, match=r"a pairs file needs id, source, instruction, edited_a, edited_b"):
        check_judge(compose(["model=tiny", "data=pairs", f"data.path={path}", "judge=pairwise"]), checkpoint=False)


def test_the_editing_stage_and_server_logits_refuse_pairs_in_one_line(tmp_path):
    path = _write(tmp_path, [ROW])
    from evaluator.config.checks import check_data

    with pytest.raises(ConfigError, match="the editing stage reads data=manifest, gedit or imgedit"):
        check_data(compose(["model=tiny", "data=pairs", f"data.path={path}"]).data, edited=False)
    with pytest.raises(
        ConfigError, match=r"reads verdict words after a pre-filled reply; with backend=api use api\.pr"
    ):
        check_judge(compose(["backend=api", "api.base_url=http://x/v1", "api.model=m", "judge=pairwise",
                             "judge.mode=logits", "data=pairs", f"data.path={path}"]))  # fmt: skip
