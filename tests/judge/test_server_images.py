"""What a server judge is sent: a file's own bytes where they show what the local judge sees, else a lossless
re-encoding of exactly the pixels the local judge decodes."""

import base64
import io
import json

import numpy as np
from PIL import Image

from evaluator.config.compose import compose
from evaluator.inputs.images import load_rgb
from evaluator.judge.server_images import image_url
from evaluator.judge.stage import run
from evaluator.results.resume import score_fingerprint
from evaluator.scoring.schemes import Scheme

from ..api_server import Server


def _decoded(url: str) -> tuple[str, bytes]:
    head, data = url.split(",", 1)
    return head, base64.b64decode(data)


def _noise(path, size=(1024, 1024), mode="RGB", fmt=None, **save):
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "RGBA": 4}.get(mode)
    shape = (size[1], size[0], channels) if channels else (size[1], size[0])
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path, format=fmt, **save)
    return path


def test_a_3_mb_png_and_a_jpeg_go_as_their_own_bytes(tmp_path):
    png = _noise(tmp_path / "big.png")
    assert png.stat().st_size > 3_000_000
    head, data = _decoded(image_url(str(png)))
    assert head == "data:image/png;base64" and data == png.read_bytes()
    jpeg = _noise(tmp_path / "photo.jpg", (640, 480), quality=80)
    head, data = _decoded(image_url(str(jpeg)))
    assert head == "data:image/jpeg;base64" and data == jpeg.read_bytes()


def test_images_that_must_change_are_the_local_judges_pixels_losslessly(tmp_path):
    rgba = _noise(tmp_path / "alpha.png", (64, 48), "RGBA")
    head, data = _decoded(image_url(str(rgba)))
    assert head == "data:image/png;base64"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(load_rgb(str(rgba))))
    turned = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    _noise(turned, (64, 48), exif=exif.tobytes())
    head, data = _decoded(image_url(str(turned)))
    shown = Image.open(io.BytesIO(data))
    assert head == "data:image/png;base64" and shown.size == (48, 64)
    assert np.array_equal(np.asarray(shown), np.asarray(load_rgb(str(turned))))
    assert Image.open(io.BytesIO(_decoded(image_url(str(turned), upright=False))[1])).size == (64, 48)


def test_max_pixels_and_resize_to_the_source_re_encode_and_image_format_chooses_how(tmp_path):
    png = _noise(tmp_path / "a.png", (200, 100))
    assert Image.open(io.BytesIO(_decoded(image_url(str(png), max_pixels=5000))[1])).size == (100, 50)
    assert Image.open(io.BytesIO(_decoded(image_url(str(png), resize_to=(60, 30)))[1])).size == (60, 30)
    head, data = _decoded(image_url(str(png), resize_to=(60, 30), image_format="webp"))
    assert head == "data:image/webp;base64" and Image.open(io.BytesIO(data)).format == "WEBP"
    assert image_url(str(png), resize_to=(200, 100)) == image_url(str(png))  # the same size: its own bytes


def test_a_run_sends_the_files_bytes_and_the_fingerprint_names_the_encoding(tmp_path):
    src, edit = _noise(tmp_path / "s.png", (96, 96)), _noise(tmp_path / "e.jpg", (96, 96), quality=90)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "x", "source": "s.png", "edited": "e.jpg", "instruction": "Do it."}) + "\n")
    args = ["backend=api", "api.model=m", "api.key_env=null", "data=manifest", f"data.path={manifest}", "report=false"]
    with Server() as server:
        run(compose([*args, f"api.base_url={server.url}", f"out_dir={tmp_path / 'out'}"]))
    [[source_url, edited_url]] = server.image_urls
    assert _decoded(source_url)[1] == src.read_bytes() and _decoded(edited_url)[1] == edit.read_bytes()
    cfg = compose([*args, "api.base_url=http://x/v1"])
    webp = compose([*args, "api.base_url=http://x/v1", "api.image_format=webp"])
    scheme = Scheme.from_config(cfg.judge)
    assert score_fingerprint(cfg, scheme) != score_fingerprint(webp, scheme)


def test_a_long_side_cap_shrinks_as_pil_thumbnail_does_on_either_path(tmp_path):
    from evaluator.inputs.samples import Sample
    from evaluator.runtime.dataset import PairDataset

    big, small = _noise(tmp_path / "big.png", size=(40, 20)), _noise(tmp_path / "small.png", size=(12, 10))
    expected = load_rgb(str(big))
    expected.thumbnail((16, 16))
    _, data = _decoded(image_url(str(big), max_side=16))
    sent = Image.open(io.BytesIO(data))
    assert sent.size == (16, 8) and np.array_equal(np.asarray(sent.convert("RGB")), np.asarray(expected))
    assert _decoded(image_url(str(small), max_side=16))[1] == small.read_bytes()  # within the cap: its own bytes
    item = PairDataset([Sample("s", str(small), str(big), "x")], max_side=16)[0]
    assert item["edited"].size == (16, 8) and item["source"].size == (12, 10)
    assert np.array_equal(np.asarray(item["edited"]), np.asarray(expected))
