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


# RISEBench items covering each way its script treats one: [sN] in an item's texts is the score the test judge gives
# every prompt that quotes them (a prompt that quotes nothing of the item gets 5); [bad] gets no score.
RISEBENCH = [
    {"index": "temporal_reasoning_1", "category": "temporal_reasoning", "subtask": "Life Progression",
     "instruction": "Age it [s5].", "reference": "An old tree."},
    {"index": "temporal_reasoning_2", "category": "temporal_reasoning", "subtask": "Material Progression",
     "instruction": "Rust it [s4].", "reference": "Rusty iron.", "reasoning_img": True},
    {"index": "causal_reasoning_1", "category": "causal_reasoning", "subtask": "State Transition",
     "instruction": "Melt it [s5].", "reference": "A puddle.", "consistency_free": True},
    {"index": "causal_reasoning_2", "category": "causal_reasoning", "subtask": "Physics Manifestation",
     "instruction": "Drop it [s1].", "reference": "A broken glass."},
    {"index": "spatial_reasoning_1", "category": "spatial_reasoning", "subtask": "Viewpoint Generation",
     "instruction": "Show its top [s3].", "reference_img": "spatial_reasoning_images/1_ref.png"},
    {"index": "spatial_reasoning_2", "category": "spatial_reasoning", "subtask": "Layout Reasoning",
     "instruction": "Arrange it [s5].", "reference": "A neat row.", "reasoning_img": True},
    {"index": "spatial_reasoning_3", "category": "spatial_reasoning", "subtask": "Object Arrangement",
     "instruction": "Stack them [s5].", "reference": "A stack.", "consistency_free": False},
    {"index": "logical_reasoning_1", "category": "logical_reasoning", "subtask": "Puzzle Solving",
     "instruction": "Solve the maze [s1].", "reference_txt": "Left, then down [s1]."},
    {"index": "logical_reasoning_2", "category": "logical_reasoning", "subtask": "Pattern Prediction",
     "instruction": "Fill the grid [s0].", "reference_img": "logical_reasoning_images/2_ref.png"},
    {"index": "logical_reasoning_3", "category": "logical_reasoning", "subtask": "Mathematical Derivation",
     "instruction": "Draw the sum [s1].", "reference_img": "logical_reasoning_images/3_ref.png",
     "reasoning_wo_ins": True},
    {"index": "temporal_reasoning_3", "category": "temporal_reasoning", "subtask": "Life Progression",
     "instruction": "Grow it [s5].", "reference": "A grown cat."},
    {"index": "causal_reasoning_3", "category": "causal_reasoning", "subtask": "Made-up Subtask",
     "instruction": "Burn it [bad].", "reference": "Ash [bad]."},
]  # fmt: skip


def make_risebench(root: Path, items=RISEBENCH, model: str = "editor") -> dict:
    """RISEBench's layout: ``data/datav2.json`` and its images, and ``outputs/<model>/images/<category>/<index>``
    for every item but ``temporal_reasoning_3`` (a JPEG for ``spatial_reasoning_2``)."""
    data, items = root / "data", [dict(x) for x in items]
    for n, item in enumerate(items):
        category, number = item["category"], item["index"].rsplit("_", 1)[1]
        item.setdefault("image", f"{category}_images/{number}.png")
        for key in ("image", "reference_img"):
            if key in item:
                (data / item[key]).parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (24, 16), (10 * n, 40, 90)).save(data / item[key])
        if item["index"] != "temporal_reasoning_3":
            out = root / "outputs" / model / "images" / category
            out.mkdir(parents=True, exist_ok=True)
            suffix = "jpg" if item["index"] == "spatial_reasoning_2" else "png"
            Image.new("RGB", (20, 20), (200, 10 * n, 50)).save(out / f"{item['index']}.{suffix}")
    (data / "datav2.json").write_text(json.dumps(items, indent=1))
    return {"metadata": str(data / "datav2.json"), "outputs": str(root / "outputs" / model)}


def risebench_reply(text: str) -> str:
    """The test judge of ``RISEBENCH``: the [sN] of the item the prompt quotes, else 5; no score for [bad]."""
    import re

    if "[bad]" in text:
        return "I cannot tell."
    found = re.search(r"\[s(\d)\]", text)
    return f"The result is as described.\n\n**Final Score:** **{found.group(1) if found else 5}**"


GEDITV2_EDITORS = {"FLUX2_dev": 170, "Qwen_Image_Edit_2509": 140, "Qwen_Image_Edit_2511": 120, "my-editor_v2": 90}


def make_geditv2(root: Path, queries: int = 8) -> dict:
    """GEditBench v2's layout: its queries as parquet, a gallery where each editor's output for a query is a flat
    grey of its own level (its base level plus the query's noise), and a metadata.jsonl that lists every editor but
    ``my-editor_v2`` (found by its path, as an editor evaluation.edit wrote) and lacks one output's file."""
    import zlib

    rows, listed = [], []
    for q in range(queries):
        key = f"{('color_alter', 'subject-add')[q % 2]}_{q:06d}"
        rows.append({"key": key, "instruction": f"Edit query {q}.", "source_image": {"bytes": _png((24, 16), (90, 90, 90)),
                     "path": None}})  # fmt: skip
        candidates = []
        for name, level in GEDITV2_EDITORS.items():
            noise = zlib.crc32(f"{key}:{name}".encode()) % 121 - 60
            folder = root / "gallery" / name
            folder.mkdir(parents=True, exist_ok=True)
            if not (name == "Qwen_Image_Edit_2511" and q == 3):  # listed, but its file is missing
                Image.new("RGB", (20, 20), (max(0, min(255, level + noise)),) * 3).save(folder / f"{key}.png")
            if name != "my-editor_v2":
                candidates.append({"model": name, "image": f"{name}/{key}.png"})
        listed.append({"key": key, "candidates": candidates})
    pq.write_table(pa.Table.from_pylist(rows), root / "queries.parquet")
    (root / "gallery" / "metadata.jsonl").write_text("".join(json.dumps(x) + "\n" for x in listed))
    return {"metadata": str(root / "queries.parquet"), "gallery": str(root / "gallery")}


def geditv2_reply(text: str, brightness: list[float]) -> str:
    """The test judge of ``make_geditv2``: the brighter of Image A and Image B wins (the last two images shown), a
    tie within 4 levels; no verdict where the two differ by exactly 10 levels."""
    a, b = brightness[-2], brightness[-1]
    if abs(abs(a - b) - 10) < 0.5:
        return "I cannot decide."
    winner = "Tie" if abs(a - b) < 4 else "Image A" if a > b else "Image B"
    return f'```json\n{{"winner": "{winner}"}}\n```'


def data_cfg(**keys):
    """A data config as the schema of its layout (``layout=...``, default manifest) completes it."""
    from omegaconf import OmegaConf

    from evaluator.config.benchmark_data import SCHEMAS
    from evaluator.config.schema import ManifestData

    layout = keys.get("layout", "manifest")
    schema = ManifestData if layout == "manifest" else SCHEMAS[f"{layout}_schema"]
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


# KRIS-Bench: (category, id, item fields beside ins_en, the scores the test judge gives as [c<n> i<n> k<n>], output?)
KRISBENCH = [
    ("count_change", "1", {"ori_img": "1.jpg"}, "[c5 i5]", True),
    ("count_change", "2", {"ori_img": "2.png"}, "[c3 i2]", True),
    ("count_change", "3", {"ori_img": "3.jpg"}, "[c4 i4]", False),
    ("anomaly_correction", "1", {"ori_img": "1.jpg", "explain_en": "No sixth finger."}, "[c4 i4]", True),
    ("physics", "1", {"ori_img": "1.jpg", "explain_en": "Ice floats."}, "[c5 i4 k3]", True),
    ("physics", "2", {"ori_img": "2.jpg", "explain_en": "Heavier side sinks."}, "[bad]", True),
    ("viewpoint_change", "1", {"ori_img": "1.jpg", "gt_img": "1_gt.jpg"}, "[c4 i5]", True),
    ("multi-element_composition", "1", {"ori_img": ["1-1.jpg", "1-2.jpg"]}, "[c3 i4]", True),
    ("multi-element_composition", "2", {"ori_img": ["2-1.jpg", "2-2.jpg", "2-3.jpg"]}, "[c5 i5]", True),
    ("temporal_prediction", "1", {"ori_img": ["1-2.jpg", "1-3.jpg", "1-4.jpg"], "gt_img": "1-1.jpg"}, "[c4 i3]", True),
    ("temporal_prediction", "2", {"ori_img": ["2-3.jpg", "2-1.jpg", "2-4.jpg"], "gt_img": "2-2.jpg"}, "[c2 i2]", True),
]


def make_krisbench(root: Path, items=KRISBENCH) -> dict:
    """KRIS-Bench's layout: ``KRIS_Bench/<category>/annotation.json`` and its images (each a flat colour of its own),
    and an editor's outputs at ``results/editor/<category>/<id>.png`` (one left out)."""
    bench, outputs = root / "KRIS_Bench", root / "results" / "editor"
    annotations: dict[str, dict] = {}
    for n, (category, key, fields, marks, has_output) in enumerate(items):
        folder = bench / category
        folder.mkdir(parents=True, exist_ok=True)
        names = fields["ori_img"] if isinstance(fields["ori_img"], list) else [fields["ori_img"]]
        for i, name in enumerate([*names, *([fields["gt_img"]] if "gt_img" in fields else [])]):
            (folder / name).write_bytes(_png((20, 16), (10 * n, 20 * i, 100)))
        annotations.setdefault(category, {})[key] = {**fields, "ins_en": f"Edit {category} {key} {marks}.",
                                                     "explain_en": fields.get("explain_en", "")}  # fmt: skip
        if has_output:
            (outputs / category).mkdir(parents=True, exist_ok=True)
            (outputs / category / f"{key}.png").write_bytes(_png((20, 16), (200, 10 * n, 50)))
    for category, items_of in annotations.items():
        (bench / category / "annotation.json").write_text(json.dumps(items_of, indent=2))
    return {"metadata": str(bench), "outputs": str(outputs)}


def krisbench_reply(text: str) -> str:
    """The test judge of ``KRISBENCH``, telling the prompt by the score keys it asks for: consistency as JSON, the
    knowledge prompt's two scores as JSON, instruction in its keyed form, quality 4 in a fenced JSON block; for an
    item marked [bad] a reply whose only digit its scripts would take for a score."""
    import re

    found = re.search(r"\[c(\d) i(\d)(?: k(\d))?\]", text)
    c, i, k = found.groups() if found else (None, None, None)
    if "[bad]" in text:
        return "Step 1 shows the edit; it looks right."
    if "knowledge_score" in text:
        return json.dumps({"instruction_score": int(i), "knowledge_score": int(k), "instruction_reasoning": "ok",
                           "knowledge_reasoning": "ok"})  # fmt: skip
    if "consistency_score" in text:
        return f'Here is my verdict: {{"consistency_score": {c}, "reasoning": "kept"}}'
    if "instruction_score" in text:
        return f"Instruction score: {i}\nThe edit follows the instruction."
    return '```json\n{"quality_score": 4, "reasoning": "clean"}\n```'
