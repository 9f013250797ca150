"""Input images: opening them safely as 8-bit RGB, and saying why one cannot be judged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from evaluator.config.schema import DataConfig
from evaluator.inputs.samples import Kind

# Qwen's image processor refuses images whose long side is more than 200 times the short one.
MAX_ASPECT = 200


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


def check_image(
    path: str, role: str, limits: ImageLimits, upright: bool = True
) -> tuple[tuple[int, int] | None, tuple[Kind, str] | None]:
    """Fully decode the image at ``path``: its (width, height) as the model will see it (upright, unless
    ``upright=False``), or why it cannot be used."""
    p = Path(path)
    if not p.is_file():
        return None, (Kind.NOT_FOUND, f"{role} image not found: {path}")
    if p.stat().st_size == 0:
        return None, (Kind.EMPTY, f"{role} image is an empty file: {path}")
    try:
        w, h = load_rgb(path, limits, upright).size  # transposed or not, min and max sides are the same
    except _TooLarge as e:
        return None, (Kind.TOO_LARGE, f"{role} image too large ({e}): {path}")
    except Exception as e:  # PIL raises many types for bad files; all mean the same here
        if type(e).__name__ == "UnidentifiedImageError":
            return None, (Kind.UNSUPPORTED, f"{role} image unsupported format ({type(e).__name__}: {e}): {path}")
        return None, (Kind.UNDECODABLE, f"{role} image does not decode ({type(e).__name__}: {e}): {path}")
    if min(w, h) < limits.min_side:
        return None, (
            Kind.TOO_SMALL,
            f"{role} image too small ({w}x{h} px; data.min_image_side={limits.min_side}): {path}",
        )
    if max(w, h) > MAX_ASPECT * min(w, h):
        return None, (
            Kind.ELONGATED,
            f"{role} image too elongated ({w}x{h} px; the judge takes at most {MAX_ASPECT}:1): {path}",
        )
    return (w, h), None


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
