import json

import pytest
from PIL import Image

from evaluator.inputs.images import load_rgb
from evaluator.inputs.manifest import read_manifest
from evaluator.inputs.preflight import check_samples
from evaluator.runtime.dataset import PairDataset
from evaluator.runtime.errors import DataError

from ..conftest import DEMO_MANIFEST
from ..fixtures import data_cfg, plan_of


def _image(path, mode="RGB", size=(40, 30), color=(10, 200, 30)):
    Image.new(mode, size, color).save(path)
    return path.name


def _rows(tmp_path, n=3):
    rows = []
    for i in range(n):
        rows.append(
            {
                "id": f"s{i}",
                "source": _image(tmp_path / f"src{i}.png"),
                "edited": _image(tmp_path / f"edit{i}.png"),
                "instruction": f"make it blue {i}",
                "category": "color",
                "follows": i % 2 == 0,
            }
        )
    return rows


def test_jsonl_manifest_paths_are_relative_to_its_folder(tmp_path):
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(tmp_path)))
    samples, problems = read_manifest(tmp_path / "m.jsonl")
    assert problems == []
    assert [s.id for s in samples] == ["s0", "s1", "s2"]
    assert samples[1].source == str(tmp_path / "src1.png")
    assert samples[2].category == "color" and samples[2].language is None
    assert samples[0].extra == {"follows": True}  # extra columns travel into the results
    assert [s.row for s in samples] == [1, 2, 3]


def test_csv_manifest(tmp_path):
    rows = _rows(tmp_path, 2)
    lines = ["id,source,edited,instruction,language"] + [
        f'{r["id"]},{r["source"]},{r["edited"]},"{r["instruction"]}, please",zh' for r in rows
    ]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    samples, problems = read_manifest(tmp_path / "m.csv")
    assert problems == []
    assert [(s.id, s.instruction, s.language) for s in samples] == [
        ("s0", "make it blue 0, please", "zh"),
        ("s1", "make it blue 1, please", "zh"),
    ]


def test_every_problem_is_reported_together_with_its_row(tmp_path):
    rows = _rows(tmp_path, 4)
    rows[1]["id"] = "s0"  # duplicate
    rows[2]["edited"] = "missing.png"
    (tmp_path / "text.png").write_text("not an image")
    rows[3]["source"] = "text.png"
    lines = [json.dumps(r) for r in rows] + ["{broken json", json.dumps({"id": "x", "source": "a.png"})]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        plan_of(data_cfg(path=str(tmp_path / "m.jsonl"), on_error="fail"))
    found = sorted((p.row, p.message.split(":")[0].split(" (")[0]) for p in err.value.problems)
    assert found == [
        (2, "duplicate id"),
        (3, "edited image not found"),
        (4, "source image unsupported format"),
        (5, "unreadable line"),
        (6, "missing edited, instruction"),
    ]
    assert str(err.value).startswith("5 problem(s) in ")


def test_missing_manifest_and_empty_manifest(tmp_path):
    with pytest.raises(DataError, match="manifest file not found"):
        plan_of(data_cfg(path=str(tmp_path / "nope.jsonl")))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="no samples"):
        plan_of(data_cfg(path=str(tmp_path / "empty.jsonl")))


def test_truncated_image_is_caught_before_any_model_loads(tmp_path):
    rows = _rows(tmp_path, 1)
    data = (tmp_path / rows[0]["edited"]).read_bytes()
    (tmp_path / rows[0]["edited"]).write_bytes(data[: len(data) // 2])
    (tmp_path / "m.jsonl").write_text(json.dumps(rows[0]) + "\n")
    samples, _ = read_manifest(tmp_path / "m.jsonl")
    [problem] = check_samples(samples)
    assert problem.id == "s0" and problem.message.startswith("edited image does not decode")


def test_load_rgb_composites_alpha_over_white_and_applies_exif(tmp_path):
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    assert load_rgb(str(tmp_path / "clear.png")).getpixel((0, 0)) == (255, 255, 255)
    im = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = im.getexif()
    exif[0x0112] = 6  # stored sideways: viewers rotate it 90 degrees
    im.save(tmp_path / "rot.jpg", exif=exif)
    assert load_rgb(str(tmp_path / "rot.jpg")).size == (20, 40)


def test_demo_set_is_valid_and_labelled():
    samples, problems = read_manifest(DEMO_MANIFEST)
    assert problems == [] and check_samples(samples) == []
    assert len(samples) >= 16
    follows = [s.extra["follows"] for s in samples]
    assert 0 < sum(follows) < len(follows)  # some edits follow their instruction, some deliberately do not
    item = PairDataset(samples)[0]
    assert item["source"].mode == "RGB" and max(item["source"].size) <= 512


def test_transparent_palette_image_is_composited_over_white(tmp_path):
    im = Image.new("P", (8, 8), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)  # index 0 black, index 1 red
    im.putpixel((0, 0), 0)
    im.save(tmp_path / "p.png", transparency=1)  # every red pixel transparent
    rgb = load_rgb(str(tmp_path / "p.png"))
    assert rgb.getpixel((0, 0)) == (0, 0, 0) and rgb.getpixel((3, 3)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("requested", "ranks", "cpus", "expected"), [(4, 1, 2, 1), (4, 3, 2, 0), (4, 6, 96, 4), (2, 6, 48, 2)]
)
def test_workers_are_capped_to_the_cpus_each_rank_has(monkeypatch, requested, ranks, cpus, expected):
    from evaluator.runtime import dataset

    monkeypatch.setattr(dataset, "cpu_count", lambda: cpus)
    assert dataset.workers_per_rank(requested, ranks) == expected


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_manifest_of_other_columns_is_one_line_naming_them_before_anything_starts(tmp_path, suffix):
    """Issue 19, trap 3: columns src, edit, prompt exited 0 after scoring nothing."""
    from evaluator.config.compose import compose
    from evaluator.judge.stage import run
    from evaluator.runtime.errors import ConfigError

    path = tmp_path / f"m{suffix}"
    if suffix == ".csv":
        path.write_text("id,src,edit,prompt\na,x.png,y.png,do it\n")
    else:
        path.write_text(json.dumps({"id": "a", "src": "x.png", "edit": "y.png", "prompt": "do it"}) + "\n")
    message = (
        rf"data.path={path} has the columns id, src, edit, prompt; a manifest needs id, source, edited, instruction "
        r"\(it lacks source, edited, instruction; likely src -> source, edit -> edited, prompt -> instruction\)"
    )
    with pytest.raises(ConfigError, match=message):
        run(compose(["model=tiny", "data=manifest", f"data.path={path}", f"out_dir={tmp_path / 'out'}"]))
    assert not (tmp_path / "out").exists()  # found before the output folder or any process


def test_one_bad_row_among_good_ones_is_still_an_error_row_not_a_refusal(tmp_path):
    from evaluator.inputs.manifest import check_columns

    rows = [{"id": "a", "source": "s", "edited": "e", "instruction": "i"}, {"id": "b", "src": "s"}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    check_columns(tmp_path / "m.jsonl")  # no error: the reader reports row 2
    from evaluator.runtime.errors import ConfigError

    with pytest.raises(ConfigError, match=r"data\.path=.*missing\.jsonl not found"):  # before anything starts
        check_columns(tmp_path / "missing.jsonl")


def test_csv_true_and_false_read_as_booleans_in_extra_columns(tmp_path):
    """Issue 19, trap 7: a CSV ``follows`` column stayed "True"/"False" and the sanity-check AUC disappeared."""
    for name in ("s.png", "e.png"):
        Image.new("RGB", (16, 16)).save(tmp_path / name)
    (tmp_path / "m.csv").write_text(
        "id,source,edited,instruction,follows,note\na,s.png,e.png,True,TRUE,x\nb,s.png,e.png,False,false,true\n"
    )
    samples, problems = read_manifest(tmp_path / "m.csv")
    assert problems == []
    assert [s.extra["follows"] for s in samples] == [True, False]
    assert [s.instruction for s in samples] == ["True", "False"]  # a required column keeps its text
    assert [s.extra["note"] for s in samples] == ["x", True]
