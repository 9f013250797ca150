"""Input images: opening them safely as 8-bit RGB, and saying why one cannot be judged."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from evaluator.config.schema import DataConfig

# Qwen's image processor refuses images whose long side is more than 200 times the short one.
MAX_ASPECT = 200
_ORIENTATION = 0x0112  # the EXIF tag


@dataclass(frozen=True)
class ImageLimits:
    """What an input image may be: at most ``max_pixels`` (a decompression bomb is refused from its header),
    at least ``min_side`` pixels on its short side."""

    max_pixels: int
    min_side: int

    @classmethod
    def from_config(cls, data_cfg) -> ImageLimits:
        return cls(int(data_cfg.max_image_pixels), int(data_cfg.min_image_side))


DEFAULT_LIMITS = ImageLimits(DataConfig.max_image_pixels, DataConfig.min_image_side)


def shrink(image: Image.Image, max_side: int | None) -> Image.Image:
    """``image`` with its long side at most ``max_side`` (None: as it is), as PIL's ``thumbnail`` makes it (bicubic,
    the aspect kept, never enlarged): RISEBench and GEditBench v2 cap what their judge sees this way."""
    if max_side and max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side))
    return image


class _TooLarge(ValueError):
    pass


def load_rgb(path: str, limits: ImageLimits = DEFAULT_LIMITS, upright: bool = True) -> Image.Image:
    """Open an image as 8-bit RGB, upright per its EXIF orientation (unless ``upright=False``).

    Alpha (RGBA, LA, transparent palettes) is composited over white; CMYK and palette images are converted;
    16-bit and 32-bit grey are scaled down to 8 bits rather than clipped. An image over ``limits.max_pixels``
    is refused from its header, before it is decoded.
    """
    with Image.open(path) as im:
        if im.width * im.height > limits.max_pixels:
            raise _TooLarge(f"{im.width}x{im.height} px; data.max_image_pixels={limits.max_pixels}")
        if upright:
            im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
            bits = 16 if im.mode.startswith("I;16") else 32
            grey = np.asarray(im, dtype=np.float64) / (2**bits - 1) * 255
            im = Image.fromarray(np.clip(grey.round(), 0, 255).astype(np.uint8), "L")
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgba).convert("RGB")
        return im.convert("RGB")


def orientation(im: Image.Image) -> int:
    """An opened image's orientation (1: upright) wherever Pillow's ``exif_transpose`` (the local judge) finds one:
    EXIF, and in its absence XMP's ``tiff:Orientation``; in a PNG also ImageMagick's "Raw profile type exif" text.
    A PNG is decoded only where a chunk can hold one: those can follow the pixel data, which ``exif_transpose``
    reads to the end."""
    if im.format == "PNG" and im.fp is not None:  # (loaded already: its text chunks are all in im.info)
        if not _png_may_turn(im.fp):
            return 1
        im.load()  # as exif_transpose does, so text chunks after the pixel data count too
    return im.getexif().get(_ORIENTATION, 1)


# PNG text chunks whose keyword Pillow reads an orientation from.
_ORIENTATION_KEYWORDS = (b"Raw profile type exif", b"XML:com.adobe.xmp")


def _png_may_turn(fp) -> bool:
    """Whether a PNG file has a chunk that may hold an orientation (``eXIf``, or a text chunk of one of
    ``_ORIENTATION_KEYWORDS``), found by walking the chunk headers (a seek per chunk)."""
    position = fp.tell()
    try:
        fp.seek(8)  # the signature
        while header := fp.read(8):
            if len(header) < 8:
                return False
            length, name = struct.unpack(">I4s", header)
            if name == b"eXIf":
                return True
            if name == b"IEND":
                return False
            if name in (b"tEXt", b"zTXt", b"iTXt"):
                keyword = fp.read(min(length, 80)).split(b"\0", 1)[0]
                if keyword in _ORIENTATION_KEYWORDS:
                    return True
                fp.seek(length - min(length, 80) + 4, io.SEEK_CUR)
                continue
            fp.seek(length + 4, io.SEEK_CUR)  # the data and its CRC
        return False
    finally:
        fp.seek(position)
