"""Published human-preference sets as pairs files: EditReward-Bench's layout, built here in miniature."""

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from evaluator.convert import main
from evaluator.inputs.human_labels import convert_editreward_bench
from evaluator.inputs.pairs import read_pairs


def _png(level: int) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (level,) * 3).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def _editreward(path, rows):
    """A parquet file in EditReward-Bench's columns, images embedded as ``datasets`` stores them."""
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


ROWS = [
    {"id": "s1", "instruction": "Make it red.", "source_image": _png(10), "candidate_1": _png(20),
     "candidate_2": _png(30), "ranking": "A>B", "dataset": "2pair", "model_1": "m1", "model_2": "m2"},
    {"id": "s2", "instruction": "Make it blue.", "source_image": _png(10), "candidate_1": _png(40),
     "candidate_2": _png(50), "ranking": "B > A", "dataset": "3pair", "model_1": "m1", "model_2": "m3"},
    {"id": "s2", "instruction": "Make it blue.", "source_image": _png(10), "candidate_1": _png(50),
     "candidate_2": _png(60), "ranking": "A=B", "dataset": "3pair", "model_1": "m3", "model_2": "m4"},
    {"id": "s3", "instruction": "x", "source_image": _png(10), "candidate_1": _png(20),
     "candidate_2": _png(30), "ranking": "unknown", "dataset": "2pair", "model_1": "m1", "model_2": "m2"},
]  # fmt: skip


def test_editreward_bench_becomes_a_pairs_file_with_each_image_written_once(tmp_path):
    src = _editreward(tmp_path / "test.parquet", ROWS)
    path = convert_editreward_bench(src, tmp_path / "out")
    pairs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(p["id"], p["human"], p["category"]) for p in pairs] == [
        ("s1", "A", "2pair"),
        ("s2", "B", "3pair"),
        ("s2-2", "tie", "3pair"),
    ]  # the unknown ranking is left out
    assert pairs[1]["model_2"] == "m3" and pairs[2]["edited_a"] == pairs[1]["edited_b"]  # one file per image
    assert len(list((tmp_path / "out" / "images").iterdir())) == 1 + 6 - 1  # one source, five distinct candidates
    samples, problems = read_pairs(path)  # the judge reads it as it is
    assert problems == [] and len(samples) == 6
    assert Image.open(samples[0].second).getpixel((0, 0)) == (30, 30, 30)


def test_the_command_says_in_one_line_what_is_not_a_set(tmp_path, capsys):
    other = _editreward(tmp_path / "other.parquet", [{"id": 1, "prompt": "x"}])
    with pytest.raises(SystemExit) as stopped:
        main(["editreward-bench", str(other), str(tmp_path / "out")])
    assert stopped.value.code == 2
    with pytest.raises(SystemExit) as stopped:
        main(["editreward-bench", str(tmp_path / "missing"), str(tmp_path / "out")])
    assert stopped.value.code == 2
    main(["editreward-bench", str(_editreward(tmp_path / "t.parquet", ROWS[:1])), str(tmp_path / "ok")])
    assert capsys.readouterr().out.strip() == str(tmp_path / "ok" / "pairs.jsonl")


def test_editscores_set_becomes_pairs_whose_preferred_edit_is_a_per_dimension(tmp_path):
    from evaluator.inputs.human_labels import convert_editscore_bench

    rows = [{"key": [f"k{i}a", f"k{i}b"], "instruction": f"Edit {i}.", "input_image": _png(10),
             "output_images": [_png(100 + i), _png(20 + i)], "task_type": "color_alter", "dimension": dim}
            for i, dim in enumerate(["overall", "consistency", "prompt_following"])]  # fmt: skip
    rows.append({**rows[0], "output_images": [_png(1)]})  # not a pair: left out, and counted
    path = convert_editscore_bench(_editreward(tmp_path / "es.parquet", rows), tmp_path / "out")
    pairs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(p["id"], p["category"], p["criterion"], p["human"]) for p in pairs] == [
        ("k0a~k0b:overall", "color_alter", "overall", "A"), ("k1a~k1b:consistency", "color_alter", "consistency", "A"),
        ("k2a~k2b:prompt_following", "color_alter", "prompt_following", "A")]  # fmt: skip
    samples, problems = read_pairs(path)
    assert problems == [] and Image.open(samples[0].edited).getpixel((0, 0)) == (100, 100, 100)
