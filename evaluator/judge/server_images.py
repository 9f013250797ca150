"""The images a server judge is sent, as data URLs: a file's own bytes wherever they already show what the local
judge would see, and a re-encoding (lossless PNG unless ``api.image_format`` says otherwise) only where they do not.

A PNG, JPEG or WebP file goes as it is when it is 8-bit RGB or grey, within ``data.max_pixels`` (and
``data.max_side``: a long side RISEBench caps), upright as stored (or ``data.exif_transpose=false``), not animated,
and not to be resized to its source (``data.resize_edited``). Anything else (an alpha channel, 16-bit grey, a
palette, CMYK, a turn in EXIF or XMP, an animation's frames, another format, too many pixels) is decoded exactly as
the local judge decodes it (``evaluator.inputs.images.load_rgb``), shrunk to ``data.max_side`` and scaled down to
``data.max_pixels`` if need be, and encoded. Passing the bytes costs a file read and base64 (about 3 ms for a 1024²
PNG here) instead of a decode and a PNG encode (about 180 ms), and sends the judge the file's own pixels.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

from PIL import Image

from evaluator.inputs.images import DEFAULT_LIMITS, ImageLimits, load_rgb, orientation, shrink

PASSED = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}  # formats every OpenAI-compatible server takes
ENCODINGS = {"png": ("PNG", {}), "webp": ("WEBP", {"lossless": True}), "jpeg": ("JPEG", {"quality": 95})}


def passes_as_is(
    im: Image.Image, max_pixels: int | None, upright: bool, size: tuple[int, int] | None, max_side: int | None = None
) -> bool:
    """Whether an opened (not decoded) image's own bytes show what the local judge would see."""
    if im.format not in PASSED or im.mode not in ("RGB", "L"):
        return False
    if getattr(im, "is_animated", False):  # the local judge sees the first frame; a server might take another
        return False
    if im.format == "PNG" and "transparency" in im.info:
        return False
    if max_pixels and im.width * im.height > max_pixels:
        return False
    if max_side and max(im.size) > max_side:
        return False
    if size is not None and im.size != size:
        return False
    return not upright or orientation(im) == 1


def image_url(
    path: str,
    max_pixels: int | None = None,
    upright: bool = True,
    resize_to: tuple[int, int] | None = None,
    image_format: str = "png",
    limits: ImageLimits = DEFAULT_LIMITS,
    max_side: int | None = None,
) -> str:
    """The image at ``path`` as a data URL (see the module docstring); ``resize_to``: the source's size, where the
    edit is to be resized to it first (``data.resize_edited``); ``max_side``: the long side it is shrunk to."""
    with Image.open(path) as im:
        if passes_as_is(im, max_pixels, upright, resize_to, max_side):
            kind = PASSED[im.format]
            return f"data:image/{kind};base64,{base64.b64encode(Path(path).read_bytes()).decode()}"
    image = load_rgb(path, limits, upright)
    if resize_to is not None and image.size != resize_to:
        image = image.resize(resize_to, Image.Resampling.BICUBIC)
    return encoded_url(shrink(image, max_side), max_pixels, image_format)


def encoded_url(image: Image.Image, max_pixels: int | None = None, image_format: str = "png") -> str:
    """A decoded image as a data URL: scaled down to ``max_pixels`` if need be, then encoded as ``image_format``."""
    if max_pixels and image.width * image.height > max_pixels:
        scale = math.sqrt(max_pixels / (image.width * image.height))
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    fmt, options = ENCODINGS[image_format]
    image.save(buf, format=fmt, **options)
    return f"data:image/{image_format};base64,{base64.b64encode(buf.getvalue()).decode()}"


class FileImages:
    """Each image of a sample, read from its file, as the data URL the server gets, under the data settings the
    local judge uses (``data.max_pixels``, ``data.exif_transpose``, ``data.resize_edited``, the image limits)."""

    def __init__(self, data_cfg, image_format: str = "png"):
        self.max_pixels = data_cfg.max_pixels
        self.upright = bool(data_cfg.exif_transpose)
        self.resize_edited = bool(data_cfg.resize_edited)
        self.limits = ImageLimits.from_config(data_cfg)
        self.image_format = image_format
        self.max_side = data_cfg.get("max_side")

    def __call__(self, sample) -> dict[str, str]:
        size = source_size(sample.source, self.upright) if self.resize_edited else None
        return {
            role: image_url(
                sample.image(role), self.max_pixels, self.upright, None if role == "source" else size,
                self.image_format, self.limits, self.max_side,
            )
            for role in sample.images
        }  # fmt: skip


def source_size(path: str, upright: bool = True) -> tuple[int, int]:
    """A source image's size as the judge sees it (upright), read from its header."""
    with Image.open(path) as im:
        size = im.size
        turned = upright and orientation(im) in (5, 6, 7, 8)
    return (size[1], size[0]) if turned else size
