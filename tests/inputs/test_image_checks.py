"""The pre-flight's image checks: each distinct file looked at once per run, whatever the rows and ranks; what was
learnt kept, so a rerun reads no image; and never trusted for a file that changed (in place, with its old
modification time put back; or truncated after a clean check)."""

from __future__ import annotations

import json
import os

import pytest
from PIL import Image

from evaluator.inputs import image_checks, preflight
from evaluator.inputs.images import DEFAULT_LIMITS, ImageLimits
from evaluator.inputs.manifest import read_manifest

from ..fixtures import data_cfg


def _bmp(path, color):
    Image.new("RGB", (40, 30), color).save(path)  # a BMP's length depends on its size only: same length, new bytes
    return path


@pytest.fixture
def counted(monkeypatch):
    """The files examined (read and decoded), in order."""
    seen = []
    examine = image_checks.examine
    monkeypatch.setattr(preflight, "examine", lambda path, max_pixels: seen.append(path) or examine(path, max_pixels))
    return seen


def _manifest(tmp_path, rows: int = 6):
    for name, color in (("s1", (200, 0, 0)), ("s2", (0, 200, 0)), ("e", (0, 0, 200))):
        _bmp(tmp_path / f"{name}.bmp", color)
    lines = [{"id": f"r{i}", "source": f"s{1 + i % 2}.bmp", "edited": "e.bmp", "instruction": f"edit {i}"}
             for i in range(rows)]  # fmt: skip
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return tmp_path / "m.jsonl"


def _check(path, store, world_size=1):
    samples, _ = read_manifest(path)
    shares = [preflight.check_share(samples, DEFAULT_LIMITS, r, world_size, store=store) for r in range(world_size)]
    return preflight.merge(shares, samples, DEFAULT_LIMITS)


def test_each_file_once_and_a_rerun_reads_no_image(tmp_path, counted, monkeypatch):
    store = tmp_path / "cache" / "checks.sqlite"
    first = _check(_manifest(tmp_path), store, world_size=3)
    assert sorted(os.path.basename(p) for p in counted) == ["e.bmp", "s1.bmp", "s2.bmp"]  # 6 rows, 3 ranks, 3 files
    assert first.problems == [] and len(first.digests) == 6
    counted.clear()
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("a rerun opened an image"))
    again = _check(tmp_path / "m.jsonl", store)
    assert counted == [] and again.digests == first.digests and again.sizes == first.sizes


def test_a_file_changed_in_place_with_its_old_mtime_is_checked_again(tmp_path, counted):
    store = tmp_path / "checks.sqlite"
    manifest = _manifest(tmp_path, rows=2)
    before = _check(manifest, store)
    edited = tmp_path / "e.bmp"
    stat = edited.stat()
    _bmp(edited, (1, 2, 3))
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # touch -d: the old time back, same length
    assert edited.stat().st_size == stat.st_size and edited.stat().st_mtime_ns == stat.st_mtime_ns
    counted.clear()
    after = _check(manifest, store)
    assert [os.path.basename(p) for p in counted] == ["e.bmp"]
    assert all(after.digests[i] != before.digests[i] for i in before.digests)  # its rows are judged again


def test_a_file_truncated_after_a_clean_check_is_caught(tmp_path):
    store = tmp_path / "checks.sqlite"
    manifest = _manifest(tmp_path, rows=2)
    assert _check(manifest, store).problems == []
    data = (tmp_path / "s1.bmp").read_bytes()
    (tmp_path / "s1.bmp").write_bytes(data[: len(data) // 2])
    [problem] = _check(manifest, store).problems
    assert problem.id == "r0" and problem.message.startswith("source image does not decode")


def test_a_larger_limit_looks_again_at_a_file_refused_from_its_header(tmp_path, counted):
    store = tmp_path / "checks.sqlite"
    samples, _ = read_manifest(_manifest(tmp_path, rows=1))
    small = ImageLimits(max_pixels=100, min_side=8)
    share = preflight.check_share(samples, small, store=store)
    assert {p.kind.name for p in preflight.merge([share], samples, small).problems} == {"TOO_LARGE"}
    counted.clear()
    share = preflight.check_share(samples, DEFAULT_LIMITS, store=store)
    assert sorted(os.path.basename(p) for p in counted) == ["e.bmp", "s1.bmp"]  # looked at again
    assert preflight.merge([share], samples, DEFAULT_LIMITS).problems == []


def test_a_cache_folder_that_cannot_be_made_is_said_and_the_check_goes_on(tmp_path, caplog):
    (tmp_path / "a-file").write_text("")  # a folder cannot be made under a file, whoever runs the test
    caplog.set_level("WARNING", logger="evaluator")
    found = _check(_manifest(tmp_path, rows=2), tmp_path / "a-file" / "sub" / "checks.sqlite")
    assert found.problems == [] and len(found.digests) == 2
    assert "image checks are not kept" in caplog.text


def test_the_judges_data_is_checked_through_the_cache_folder(tmp_path, counted, monkeypatch):
    monkeypatch.setenv("EVALUATOR_CACHE", str(tmp_path / "cache"))
    data = data_cfg(path=str(_manifest(tmp_path, rows=4)))
    loaded, share = preflight.read_and_check(data)
    assert len(counted) == 3 and (tmp_path / "cache" / "image-checks.sqlite").is_file()
    counted.clear()
    loaded, again = preflight.read_and_check(data)
    assert counted == []
    first = preflight.findings_of(data, loaded, [share])
    assert preflight.findings_of(data, loaded, [again]).digests == first.digests
