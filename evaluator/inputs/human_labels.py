"""Published human-preference sets turned into a pairs file (``data=pairs``), so a judge's agreement with people can
be measured on them: ``python -m evaluator.convert editscore-bench|editreward-bench SRC OUT``.

- ``editscore-bench``: EditScore's EditReward-Bench (parquet, or ``save_to_disk``): each row a pair ``key`` of an
  ``input_image`` and two ``output_images``, the first being the one people preferred, under one ``dimension``
  (``prompt_following``, ``consistency`` or ``overall``) and one ``task_type``. ``human`` is therefore always A; the
  dimension becomes the pair's ``criterion`` (the score that decides it, under judge=editscore) and the task type
  its category, so the agreement is given per dimension and task type, and EditScore's headline (each dimension's
  mean over task types) is computed. One edit is in a pair per dimension: the run judges it once. EditScore counts
  a pair right only when the preferred edit scores higher, as ``accuracy`` here counts a tie wrong.
- ``editreward-bench``: TIGER-Lab's EditReward-Bench (another set of that name), on disk as downloaded (parquet
  files, or a ``datasets`` ``save_to_disk`` folder): each row one comparison, with ``instruction``, the images
  ``source_image``, ``candidate_1`` and ``candidate_2`` embedded as bytes, and ``ranking`` (``A>B``, ``B>A`` or
  ``A=B``: the people's verdict, candidate 1 being A). Its ``dataset`` column (``2pair``, ``3pair``, ``4pair``)
  becomes the category, so the agreement is also reported per subset; ``model_1``, ``model_2`` and
  ``comparison_type`` are kept.

The images are written once each, named by their content's hash, beside ``pairs.jsonl``; nothing is downloaded
here, and nothing of a set ships with this project.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections import Counter
from pathlib import Path

from PIL import Image

from evaluator.inputs.tables import read_table
from evaluator.results.writing import atomic_write
from evaluator.runtime.errors import ConfigError

log = logging.getLogger(__name__)

RANKINGS = {"A>B": "A", "B>A": "B", "A=B": "tie"}


def _image_file(value, images: Path, what: str) -> str:
    """Write an embedded image (``{"bytes": ..., "path": ...}`` as ``datasets`` stores it) once; its file name."""
    data = value.get("bytes") if isinstance(value, dict) else value
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise ValueError(f"{what} holds no image bytes")
    try:
        with Image.open(io.BytesIO(data)) as im:
            suffix = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}.get(im.format or "", ".png")
    except (OSError, Image.DecompressionBombError) as e:  # not an image, or past Pillow's pixel limit
        raise ValueError(f"{what} holds no readable image ({type(e).__name__})") from None
    name = hashlib.sha256(data).hexdigest()[:20] + suffix
    if not (images / name).exists():
        atomic_write(images / name, data)
    return f"images/{name}"


def _rows(source: str | Path, needed: tuple[str, ...], name: str) -> list[dict]:
    try:
        rows = read_table(source)
    except (OSError, ValueError) as e:  # missing, not parquet or arrow (JSON, CSV), corrupt or truncated
        raise ConfigError(f"cannot read {name} at {source}: {e}") from None
    missing = [k for k in needed if rows and k not in rows[0]]
    if not rows or missing:
        raise ConfigError(f"{source} is not {name}: it lacks {', '.join(missing) or 'any row'}")
    return rows


def _out_folder(out: str | Path) -> Path:
    out = Path(out).expanduser()
    try:
        (out / "images").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot write into {out}: {e.strerror or e}") from None
    return out


def _unique(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``, ... (the first not yet ``taken``): one id per comparison, even where a
    set repeats a key (a repeated row is one more comparison, as the set's own statistics count it)."""
    pair_id, n = base, 1
    while pair_id in taken:
        n += 1
        pair_id = f"{base}-{n}"
    taken.add(pair_id)
    return pair_id


def _no_instruction(row: dict) -> bool:
    value = row.get("instruction")
    return not isinstance(value, str) or not value.strip()


def _write_pairs(out: Path, lines: list[str], total: int, skipped: Counter) -> Path:
    path = atomic_write(out / "pairs.jsonl", "".join(lines))
    if skipped:
        log.warning("left out %d of %d rows: %s", sum(skipped.values()), total,
                    ", ".join(f"{k} ({v})" for k, v in skipped.items()))  # fmt: skip
    log.info("%d labelled pairs in %s", len(lines), path)
    return path


def convert_editscore_bench(source: str | Path, out: str | Path) -> Path:
    """Write ``out/pairs.jsonl`` and ``out/images/`` from EditScore's EditReward-Bench; see the module docstring.

    Raises:
        ConfigError: ``source`` holds no such data.
    """
    rows = _rows(source, ("key", "instruction", "input_image", "output_images", "dimension"), "EditScore's set")
    out = _out_folder(out)
    lines, skipped, taken = [], Counter(), set()
    for n, row in enumerate(rows, start=1):
        outputs, keys = row["output_images"], row["key"]
        if not (isinstance(outputs, list) and len(outputs) == 2):
            skipped["not two output images"] += 1
            continue
        if _no_instruction(row):
            skipped["no instruction"] += 1
            continue
        try:
            images = [_image_file(v, out / "images", f"row {n}") for v in (row["input_image"], *outputs)]
        except (ValueError, OSError):
            skipped["an image unreadable"] += 1
            continue
        pair_id = "~".join(map(str, keys)) if isinstance(keys, list) else str(keys if keys is not None else n)
        pair = {"id": _unique(f"{pair_id}:{row['dimension']}", taken), "source": images[0],
                "instruction": row["instruction"], "edited_a": images[1], "edited_b": images[2],
                "category": row.get("task_type"), "criterion": row["dimension"], "human": "A"}  # fmt: skip
        lines.append(json.dumps(pair, ensure_ascii=False) + "\n")
    return _write_pairs(out, lines, len(rows), skipped)


def convert_editreward_bench(source: str | Path, out: str | Path) -> Path:
    """Write ``out/pairs.jsonl`` and ``out/images/`` from EditReward-Bench at ``source``; see the module docstring.

    Raises:
        ConfigError: ``source`` holds no such data, or a row lacks a column the set has.
    """
    needed = ("instruction", "source_image", "candidate_1", "candidate_2", "ranking")
    rows = _rows(source, needed, "TIGER-Lab's EditReward-Bench")
    out = _out_folder(out)
    lines, skipped, taken = [], Counter(), set()
    for n, row in enumerate(rows, start=1):
        human = RANKINGS.get(str(row["ranking"]).replace(" ", ""))
        if human is None:
            skipped[f"ranking {str(row['ranking'])[:20]!r}"] += 1
            continue
        if _no_instruction(row):
            skipped["no instruction"] += 1
            continue
        pair = {"id": _unique(str(row.get("id") if row.get("id") is not None else n), taken)}
        try:
            pair.update(source=_image_file(row["source_image"], out / "images", f"row {n}'s source_image"),
                        edited_a=_image_file(row["candidate_1"], out / "images", f"row {n}'s candidate_1"),
                        edited_b=_image_file(row["candidate_2"], out / "images", f"row {n}'s candidate_2"))  # fmt: skip
        except (ValueError, OSError) as e:
            skipped[str(e).split(" holds")[0].split("'s ")[-1] + " unreadable"] += 1
            continue
        pair.update(instruction=row["instruction"], category=row.get("dataset"), human=human)
        pair.update({k: row[k] for k in ("model_1", "model_2", "comparison_type") if row.get(k) is not None})
        lines.append(json.dumps(pair, ensure_ascii=False) + "\n")
    return _write_pairs(out, lines, len(rows), skipped)


CONVERTERS = {"editscore-bench": convert_editscore_bench, "editreward-bench": convert_editreward_bench}
