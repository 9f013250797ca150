"""Rebuild the demo benchmark in evaluator/assets/demo from scikit-image's sample photographs.

    pip install -e ".[demo]" && python scripts/make_demo.py

Every photograph used is public domain or CC0 (see the LICENSE.md this writes). Each pair applies a simple,
checkable edit with Pillow; in some pairs the edit deliberately does not follow the instruction (another edit, or
none at all), and the manifest's ``follows`` field records which, so a judge's ranking can be checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import skimage.data
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

OUT = Path(__file__).resolve().parent.parent / "evaluator" / "assets" / "demo"
MAX_SIDE = 256

PHOTOS = {
    "astronaut": "Eileen Collins, NASA; public domain",
    "camera": "Lav Varshney; CC0",
    "coffee": "Rachel Michetti; CC0",
    "chelsea": "Stefan van der Walt; CC0",
    "rocket": "SpaceX; public domain",
    "hubble_deep_field": "NASA; public domain",
}


def _frame(im: Image.Image) -> Image.Image:
    out = im.copy()
    w = max(4, min(im.size) // 16)
    ImageDraw.Draw(out).rectangle([0, 0, im.width - 1, im.height - 1], outline=(220, 20, 20), width=w)
    return out


def _crop(im: Image.Image) -> Image.Image:
    w, h = im.size
    return im.crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4))


def _warm(im: Image.Image) -> Image.Image:
    return Image.blend(im, Image.new("RGB", im.size, (255, 140, 0)), 0.3)


EDITS = {
    "grayscale": ("color", lambda im: ImageOps.grayscale(im).convert("RGB")),
    "invert": ("color", ImageOps.invert),
    "warm": ("color", _warm),
    "mirror": ("geometry", ImageOps.mirror),
    "rotate": ("geometry", lambda im: im.transpose(Image.Transpose.ROTATE_270)),
    "crop": ("geometry", _crop),
    "blur": ("style", lambda im: im.filter(ImageFilter.GaussianBlur(6))),
    "posterize": ("style", lambda im: ImageOps.posterize(im, 2)),
    "brighten": ("tone", lambda im: ImageEnhance.Brightness(im).enhance(1.8)),
    "frame": ("add", _frame),
    "none": ("none", lambda im: im.copy()),
}

INSTRUCTIONS = {
    "grayscale": {"en": "Turn the photo black and white.", "zh": "把这张照片变成黑白的。"},
    "invert": {"en": "Invert all the colors of the image.", "zh": "反转图像的所有颜色。"},
    "warm": {"en": "Give the photo a warm orange tint.", "zh": "给照片加上温暖的橙色色调。"},
    "mirror": {"en": "Mirror the image horizontally, left to right.", "zh": "将图像左右水平翻转。"},
    "rotate": {"en": "Rotate the image 90 degrees clockwise.", "zh": "将图像顺时针旋转90度。"},
    "crop": {"en": "Crop the image to its central part.", "zh": "把图像裁剪到中间部分。"},
    "blur": {"en": "Blur the whole image strongly.", "zh": "把整张图像强烈模糊。"},
    "posterize": {
        "en": "Reduce the image to a few flat colors, like a poster.",
        "zh": "把图像变成只有几种颜色的海报风格。",
    },
    "brighten": {"en": "Make the image much brighter.", "zh": "让图像明显变亮。"},
    "frame": {"en": "Add a thick red border around the image.", "zh": "在图像四周加上粗的红色边框。"},
}

# (photo, instructed edit, applied edit, language): applied == instructed means the edit follows the instruction.
PAIRS = [
    ("astronaut", "grayscale", "grayscale", "en"),
    ("astronaut", "mirror", "blur", "en"),
    ("astronaut", "frame", "frame", "zh"),
    ("camera", "rotate", "rotate", "en"),
    ("camera", "blur", "none", "en"),
    ("camera", "crop", "crop", "en"),
    ("coffee", "warm", "warm", "en"),
    ("coffee", "invert", "grayscale", "zh"),
    ("coffee", "posterize", "posterize", "en"),
    ("chelsea", "mirror", "mirror", "en"),
    ("chelsea", "brighten", "invert", "en"),
    ("chelsea", "grayscale", "grayscale", "zh"),
    ("rocket", "frame", "none", "en"),
    ("rocket", "blur", "blur", "en"),
    ("rocket", "rotate", "mirror", "zh"),
    ("hubble_deep_field", "brighten", "brighten", "en"),
    ("hubble_deep_field", "invert", "invert", "en"),
    ("hubble_deep_field", "warm", "crop", "en"),
]


def _photo(name: str) -> Image.Image:
    im = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return im


def main() -> None:
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        _photo(name).save(OUT / "images" / f"{name}.jpg", quality=88)
    rows = []
    for i, (photo, instructed, applied, lang) in enumerate(PAIRS):
        sample_id = f"demo-{i:02d}-{photo}-{instructed}"
        edited = f"images/{sample_id}.jpg"
        EDITS[applied][1](_photo(photo)).save(OUT / edited, quality=88)
        rows.append(
            {
                "id": sample_id,
                "source": f"images/{photo}.jpg",
                "edited": edited,
                "instruction": INSTRUCTIONS[instructed][lang],
                "category": EDITS[instructed][0],
                "language": lang,
                "follows": applied == instructed,
                "applied_edit": applied,
            }
        )
    with (OUT / "manifest.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    credits = "\n".join(
        f"- `images/{n}.jpg` and its edits: {c} (from scikit-image's sample data)" for n, c in PHOTOS.items()
    )
    (OUT / "LICENSE.md").write_text(
        "# Demo images\n\nMade by `scripts/make_demo.py` from scikit-image's sample photographs:\n\n" + credits + "\n"
    )
    print(f"wrote {len(rows)} pairs to {OUT}")


if __name__ == "__main__":
    main()
