"""The editor module: output sizes, per-sample seeds, the pipeline's calls, out-of-memory halving, blocked edits."""

import hashlib
from pathlib import Path

import pytest
import torch
from PIL import Image

from evaluator.config.compose import compose
from evaluator.edit.module import EditModule, collate_edits, output_size, sample_seed, save_png
from evaluator.inputs.samples import Sample
from evaluator.runtime.sampler import length_batches


@pytest.mark.parametrize(
    ("size", "resolution", "multiple", "expected"),
    [
        ((1024, 1024), 1024, 16, (1024, 1024)),
        ((512, 512), 1024, 16, (1024, 1024)),  # small sources are edited at the editor's resolution
        ((640, 480), 1024, 16, (1184, 880)),  # about 1024² pixels, the source's 4:3 kept
        ((3000, 100), 512, 64, (2816, 64)),  # a side never drops below one multiple
        ((641, 479), None, 8, (640, 480)),  # the source's own size, to the latent grid
        ((3, 3), None, 8, (8, 8)),
    ],
)
def test_output_size(size, resolution, multiple, expected):
    w, h = output_size(*size, resolution, multiple)
    assert (w, h) == expected and w % multiple == 0 and h % multiple == 0


def test_sample_seed_depends_on_seed_and_id_only():
    assert sample_seed(0, "a") == sample_seed(0, "a")
    assert len({sample_seed(0, "a"), sample_seed(0, "b"), sample_seed(1, "a")}) == 3
    assert 0 <= sample_seed(7, "x" * 10_000) < 2**63


def test_batches_hold_one_output_size_and_every_sample_once():
    keys = [(64, 64), (64, 48), (64, 64), (64, 48), (64, 64), (48, 64)]
    batches = length_batches(range(6), [1.0] * 6, 2, keys=keys)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert all(len({keys[i] for i in b}) == 1 for b in batches)
    assert batches == [[0, 2], [1, 3], [4], [5]]  # a size interleaved with another still fills its batch


class _Pipe:
    """A stand-in pipeline: records its calls; out of memory above ``fits`` samples; can flag samples."""

    def __init__(self, fits=64, flag=()):
        self.fits, self.flag, self.calls = fits, set(flag), []

    def __call__(self, prompt, image, generator, output_type, num_inference_steps):
        self.calls.append(len(prompt))
        if len(prompt) > self.fits:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        seeds = [g.initial_seed() % 256 for g in generator]
        images = [Image.new("RGB", im.size, (s, 0, 0)) for s, im in zip(seeds, image, strict=True)]

        class Out:
            pass

        out = Out()
        out.images = images
        out.nsfw_content_detected = [p in self.flag for p in prompt]
        return out


def _batch(tmp_path, n):
    samples = [Sample(f"s{i}", "src.png", str(tmp_path / f"e{i}.png"), f"do {i}", row=i + 1) for i in range(n)]
    return collate_edits([{"sample": s, "image": Image.new("RGB", (16, 16)), "size": (16, 16)} for s in samples])


def _module(pipe):
    module = EditModule(compose(["editor=tiny"], "edit").editor, seed=3, pipeline=pipe)
    module.keywords = {"num_inference_steps": 2}
    return module


def test_an_edit_is_written_with_its_hash_and_its_own_seed(tmp_path):
    rows = _module(_Pipe()).predict_step(_batch(tmp_path, 3), 0)
    assert [r["id"] for r in rows] == ["s0", "s1", "s2"]
    for i, r in enumerate(rows):
        data = (tmp_path / f"e{i}.png").read_bytes()
        assert r["error"] is None and r["sha256"] == hashlib.sha256(data).hexdigest()
        assert Image.open(tmp_path / f"e{i}.png").getpixel((0, 0))[0] == sample_seed(3, f"s{i}") % 256
    assert not list(tmp_path.glob(".*tmp*"))  # written through a temporary name, renamed


def test_out_of_memory_halves_the_batch_down_to_single_samples(tmp_path):
    pipe = _Pipe(fits=1)
    rows = _module(pipe).predict_step(_batch(tmp_path, 4), 0)
    assert pipe.calls == [4, 2, 1, 1, 2, 1, 1]
    assert [r["id"] for r in rows] == ["s0", "s1", "s2", "s3"] and all(r["error"] is None for r in rows)
    rows = _module(_Pipe(fits=0)).predict_step(_batch(tmp_path, 2), 0)
    assert [(r["id"], r["error"]) for r in rows] == [("s0", "out of memory"), ("s1", "out of memory")]


def test_an_edit_the_safety_checker_blocked_is_an_error_not_a_black_image(tmp_path):
    rows = _module(_Pipe(flag={"do 1"})).predict_step(_batch(tmp_path, 3), 0)
    assert rows[1]["error"] == "blocked by the pipeline's safety checker" and "sha256" not in rows[1]
    assert not (tmp_path / "e1.png").exists() and (tmp_path / "e0.png").exists()


def test_save_png_into_an_unwritable_place_is_one_line(tmp_path):
    from evaluator.runtime.errors import OutputError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write"):
        save_png(Image.new("RGB", (8, 8)), Path(blocker / "sub" / "x.png"))
