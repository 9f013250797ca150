"""Miniature GEdit-Bench and ImgEdit-Bench layouts, written by the tests themselves (nothing is downloaded)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

# key, task_type, language, Intersection_exist, edit present?
GEDIT_ROWS = [  # GEdit-Bench's English and Chinese rows of a picture share its key
    ("g0", "color_alter", "en", True, True),
    ("g0", "color_alter", "cn", True, True),
    ("g1", "background_change", "en", False, True),
    ("g1", "background_change", "cn", False, True),
    ("g2", "background_change", "en", True, False),  # the model produced no output for this one
]


def _png(size, color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def make_gedit(root: Path, arrow: bool = False, rows=GEDIT_ROWS) -> dict:
    """Metadata as parquet (or a ``save_to_disk``-style arrow folder) and edits for model "mymodel"; ``rows`` are
    (key, task_type, language, intersection, has an edit)."""
    records = [
        {
            "key": key,
            "task_type": task,
            "instruction": f"instruction for {key}",
            "instruction_language": lang,
            "input_image": {"bytes": _png((64, 48), (10 * i % 256, 100, 200)), "path": None},
            "Intersection_exist": inter,
        }
        for i, (key, task, lang, inter, _) in enumerate(rows)
    ]
    table = pa.Table.from_pylist(records)
    root.mkdir(parents=True, exist_ok=True)
    if arrow:
        meta = root / "gedit_meta"
        meta.mkdir(parents=True)
        with pa.ipc.new_stream(str(meta / "data-00000-of-00001.arrow"), table.schema) as writer:
            writer.write_table(table)
    else:
        meta = root / "gedit.parquet"
        pq.write_table(table, meta)
    for key, task, lang, _, present in rows:
        if present:
            folder = root / "results" / "mymodel" / "fullset" / task / lang
            folder.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (32, 32), (200, 0, 0)).save(folder / f"{key}.png")  # not the source's size
    return {"metadata": str(meta), "results_root": str(root / "results"), "model_name": "mymodel"}


IMGEDIT = {
    "i0": {"id": "animals/cat.jpg", "prompt": "Add a hat to the cat.", "edit_type": "add"},
    "i1": {"id": "animals/cat.jpg", "prompt": "Remove the cat.", "edit_type": "remove"},
    "i2": {"id": "street.jpg", "prompt": "Make it night.", "edit_type": "background"},
    "i3": {"id": "street.jpg", "prompt": "Turn it into a watercolour.", "edit_type": "style"},
}


def make_imgedit(root: Path) -> dict:
    """The basic-set JSON, a source folder and an edit folder where ``i3`` has no edit."""
    (root / "src" / "animals").mkdir(parents=True)
    Image.new("RGB", (48, 48), (0, 120, 0)).save(root / "src" / "animals" / "cat.jpg")
    Image.new("RGB", (64, 40), (30, 30, 30)).save(root / "src" / "street.jpg")
    (root / "edits").mkdir()
    for key in ("i0", "i1", "i2"):
        Image.new("RGB", (48, 48), (0, 0, 120)).save(root / "edits" / f"{key}.png")
    (root / "basic_edit.json").write_text(json.dumps(IMGEDIT))
    return {"metadata": str(root / "basic_edit.json"), "sources": str(root / "src"), "edits": str(root / "edits")}


def data_cfg(**keys):
    """A data config as the schema of its layout (``layout=...``, default manifest) completes it."""
    from omegaconf import OmegaConf

    from evaluator.config.schema import GEditData, ImgEditData, ManifestData

    schema = {"manifest": ManifestData, "gedit": GEditData, "imgedit": ImgEditData}[keys.get("layout", "manifest")]
    return OmegaConf.merge(OmegaConf.structured(schema), keys)


def model_cfg(**keys):
    """A model config as the schema completes it (``name_or_path`` default: the tiny judge)."""
    from omegaconf import OmegaConf

    from evaluator.config.schema import ModelConfig

    return OmegaConf.merge(OmegaConf.structured(ModelConfig), {"name_or_path": "tiny:qwen3_vl", **keys})


def judge_dict(name: str = "score10") -> dict:
    """A shipped judging scheme as a plain dict, composed as the command line does."""
    from omegaconf import OmegaConf

    from evaluator.config.compose import compose

    return OmegaConf.to_container(compose([f"judge={name}"]).judge, resolve=True)


def plan_of(data, previous=None):
    """The run plan of a data config in one process: read, check every image, decide."""
    from evaluator.inputs import preflight, readers
    from evaluator.results.plan import make_plan

    loaded, share = preflight.read_and_check(data)
    return make_plan(
        loaded, preflight.findings_of(data, loaded, [share]), readers.describe(data), data.on_error, previous
    )
