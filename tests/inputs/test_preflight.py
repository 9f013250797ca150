"""Every kind of bad input the pre-flight check must catch (or repair), each checked by its message."""

import json

import numpy as np
import pytest
from PIL import Image

from evaluator.inputs.images import ImageLimits, load_rgb
from evaluator.inputs.manifest import read_manifest
from evaluator.inputs.preflight import check_samples
from evaluator.inputs.samples import Kind
from evaluator.results.plan import merge_rows
from evaluator.results.summary import summarize
from evaluator.runtime.errors import DataError

from ..fixtures import data_cfg, plan_of

LIMITS = ImageLimits(max_pixels=1_000_000, min_side=8)


def _problem(path, limits=LIMITS):
    from evaluator.inputs.image_checks import examine, file_identity, judged

    facts = examine(str(path), limits.max_pixels) if file_identity(str(path)) else None
    size, problem = judged(facts, str(path), "edited", limits)
    assert (size is None) == (problem is not None)
    return problem[1] if problem else None


def _png(path, mode="RGB", size=(32, 24), color=(10, 200, 30)):
    Image.new(mode, size, color).save(path)
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "edited image not found"),
        (lambda p: p.write_bytes(b""), "edited image is an empty file"),
        (lambda p: p.write_bytes(_png(p).read_bytes()[:60]), "edited image does not decode"),
        (lambda p: p.write_text("hello, I am text"), "edited image unsupported format"),
        (lambda p: p.write_text("<svg xmlns='http://www.w3.org/2000/svg'/>"), "edited image unsupported format"),
        (lambda p: _png(p, size=(1, 1)), "edited image too small (1x1 px"),
        (lambda p: _png(p, size=(2000, 9)), "edited image too elongated"),
        (lambda p: _png(p, mode="L", size=(1200, 1000), color=0), "edited image too large (1200x1000 px"),
    ],
    ids=["missing", "empty", "truncated-png", "text-as-png", "svg", "1x1", "elongated", "bomb"],
)
def test_bad_image_is_reported(tmp_path, make, expected):
    path = tmp_path / "x.png"
    make(path)
    assert (_problem(path) or "").startswith(expected)


def test_truncated_jpeg(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "b.jpg").write_bytes(data[: len(data) // 2])
    assert _problem(tmp_path / "b.jpg").startswith("edited image does not decode")


def test_bomb_is_refused_from_its_header_before_decoding(tmp_path, monkeypatch):
    _png(tmp_path / "big.png", mode="L", size=(1200, 1000), color=0)
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded a bomb"))
    assert _problem(tmp_path / "big.png").startswith("edited image too large")


@pytest.mark.parametrize(
    ("mode", "color", "expected"),
    [
        ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
        ("P", 3, None),
        ("RGBA", (255, 0, 0, 0), (255, 255, 255)),  # fully transparent red: white
        ("RGBA", (255, 0, 0, 255), (255, 0, 0)),
        ("LA", (0, 128), (128, 128, 128)),  # black at half alpha over white
    ],
)
def test_modes_are_converted_to_rgb(tmp_path, mode, color, expected):
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    Image.new(mode, (16, 16), color).save(path)
    im = load_rgb(str(path))
    assert im.mode == "RGB" and im.size == (16, 16)
    if expected:
        assert im.getpixel((0, 0)) == pytest.approx(expected, abs=2)


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    Image.fromarray(np.full((16, 16), 32768, dtype=np.uint16)).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    assert load_rgb(str(tmp_path / "g16.png")).getpixel((3, 3)) == (128, 128, 128)


def test_exif_rotation_is_applied(tmp_path):
    im = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "rot.jpg", exif=exif)
    assert load_rgb(str(tmp_path / "rot.jpg")).size == (20, 40)


def _manifest(tmp_path, rows, raw_lines=()):
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in rows] + list(raw_lines)
    (tmp_path / "m.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return tmp_path / "m.jsonl"


def _good(tmp_path, i):
    _png(tmp_path / f"s{i}.png")
    _png(tmp_path / f"e{i}.png")
    return {"id": f"id{i}", "source": f"s{i}.png", "edited": f"e{i}.png", "instruction": "Make it blue."}


def test_text_problems_and_escaping_paths(tmp_path):
    rows = [_good(tmp_path, i) for i in range(4)]
    rows[0]["instruction"] = "   "
    rows[1]["id"] = "id0"  # duplicate of row 1
    rows[2]["source"] = "../../etc/passwd"
    bad_utf8 = b'{"id": "id9", "source": "s3.png", "edited": "e3.png", "instruction": "caf\xe9"}'
    samples, problems = read_manifest(_manifest(tmp_path, rows, [bad_utf8]))
    problems += check_samples(samples)
    found = sorted((p.row, p.reason) for p in problems)
    assert found == [
        (1, "missing instruction"),
        (3, "path escapes the data root " + str(tmp_path)),
        (5, "not valid UTF-8"),
    ]
    # Once the empty instruction is fixed, row 2 is a duplicate of row 1.
    rows[0]["instruction"] = "fine"
    samples, _ = read_manifest(_manifest(tmp_path, rows))
    assert [(p.row, p.reason) for p in check_samples(samples)] == [(2, "duplicate id")]
    # Allowed explicitly, a path outside the root is fine (here it then does not exist).
    samples, problems = read_manifest(tmp_path / "m.jsonl", allow_outside_root=True)
    assert problems == [] and len(samples) == 4


def test_skip_runs_the_good_rows_and_reports_the_bad(tmp_path):
    rows = [_good(tmp_path, i) for i in range(3)]
    rows[1]["edited"] = "missing.png"
    rows.append(dict(rows[0]))  # duplicate id
    path = _manifest(tmp_path, rows, [b"{not json"])
    plan = plan_of(data_cfg(path=str(path), on_error="skip"))
    assert [s.id for s in plan.todo] == ["id0", "id2"]
    assert [(r["id"], r["error"]) for r in plan.skipped] == [
        ("id1", "skipped: edited image not found"),
        ("id0#row4", "skipped: duplicate id"),
        ("-#row5", "skipped: unreadable line"),
    ]
    scored = [[{"id": s.id, "score": 5.0, "error": None, "rank": 0} for s in plan.todo]]
    merged = merge_rows(scored, plan)
    assert [r["id"] for r in merged] == ["id0", "id1", "id2", "id0#row4", "-#row5"]  # every input row, in order
    summary = summarize(merged)
    assert summary["skipped"] == 3 and summary["scored"] == 2
    with pytest.raises(DataError, match="3 problem") as err:
        plan_of(data_cfg(path=str(path), on_error="fail"))
    assert [p.kind for p in err.value.problems] == [Kind.NOT_FOUND, Kind.DUPLICATE_ID, Kind.UNREADABLE_LINE]
