"""The data keys of the benchmarks' own layouts (``data=gedit``, ``imgedit``, ``risebench``, ``geditv2``,
``krisbench``), beside the common ones of ``schema.DataConfig``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import MISSING

from evaluator.config.schema import DataConfig
from evaluator.runtime.errors import ConfigError


@dataclass
class GEditData(DataConfig):
    """GEdit-Bench: its metadata and an editor's results folder."""

    layout: str = "gedit"
    metadata: str = MISSING  # parquet file(s) or a datasets save_to_disk folder
    results_root: str = MISSING  # holds <model_name>/fullset/<task_type>/<en|cn>/<key>.png
    model_name: str = MISSING  # the editing model whose outputs are judged
    language: str = "all"  # en, cn or all
    resize_edited: bool = True  # as GEdit-Bench does (bicubic)
    exif_transpose: bool = False  # as GEdit-Bench does


@dataclass
class ImgEditData(DataConfig):
    """ImgEdit-Bench's basic set."""

    layout: str = "imgedit"
    metadata: str = MISSING  # JSON: key -> {id: source image path under `sources`, prompt, edit_type}
    sources: str = MISSING  # folder of the benchmark's source images
    edits: str = MISSING  # folder of the editor's <key>.png outputs
    allow_outside_root: bool = False  # source ids may not leave the sources folder


@dataclass
class RiseBenchData(DataConfig):
    """RISEBench: its data file and images, and an editor's outputs where its ``gpt_eval.py`` reads them."""

    layout: str = "risebench"
    metadata: str = MISSING  # the benchmark's JSON (data_total.json, or the full set's datav2_total_w_subtask.json)
    images: str | None = None  # the folder its image paths start from (gpt_eval.py's --input); default: the JSON's
    outputs: str = MISSING  # outputs/<MODEL>, holding images/<category>/<index>.png|jpg|jpeg (its --output)
    max_side: int | None = 768  # its judge sees each image shrunk to 768 on the long side
    exif_transpose: bool = False  # as its script does


@dataclass
class GEditV2Data(DataConfig):
    """GEditBench v2: its queries, and its candidates gallery of editors' outputs compared pair by pair."""

    layout: str = "geditv2"
    metadata: str = MISSING  # the benchmark's parquet file(s) (GEditBench-v2/data): key, instruction, source_image
    gallery: str = MISSING  # the candidates gallery: <gallery>/<editor>/<key>.png
    candidates: str | None = None  # its metadata.jsonl (key -> [{model, image}]); default <gallery>/metadata.jsonl
    editors: list[str] = field(default_factory=list)  # the editors to compare (its selected list); empty: all listed
    min_outputs: int = 201  # an editor with fewer outputs is left out, as its loader leaves out those with <= 200
    max_side: int | None = 1024  # its judge sees each image shrunk to 1024 on the long side
    exif_transpose: bool = False  # as its scripts do
    # Its Elo (elo_score.py): bootstrap resamples of prompt clusters, the L2 weight, how dimensions weigh, the seed.
    bootstrap: int = 1000
    alpha: float = 1.0
    dimension_weighting: str = "balanced"  # balanced or by_matches
    elo_seed: int = 42


@dataclass
class KrisBenchData(DataConfig):
    """KRIS-Bench: its benchmark folder, and an editor's outputs where its metrics_*.py scripts read them."""

    layout: str = "krisbench"
    metadata: str = MISSING  # the KRIS_Bench folder: <category>/annotation.json and the category's images
    outputs: str = MISSING  # results/<MODEL>: <category>/<id>.png (or .jpg, .jpeg)
    categories: list[str] = field(default_factory=list)  # the categories to judge; empty: every one found
    resize_edited: bool = False  # its scripts send each image as it is
    exif_transpose: bool = False  # as its scripts do


SCHEMAS = {"gedit_schema": GEditData, "imgedit_schema": ImgEditData, "risebench_schema": RiseBenchData,
           "geditv2_schema": GEditV2Data, "krisbench_schema": KrisBenchData}  # fmt: skip


def check_layout(data, edited: bool = True) -> None:
    """Raises: ConfigError on a benchmark layout's own keys: RISEBench's outputs folder missing where the judge
    reads it (``edited``), GEditBench v2's Elo settings out of range."""
    outputs = data.get("outputs") if data.layout in ("risebench", "krisbench") and edited else None
    if outputs and not Path(str(outputs)).expanduser().is_dir():
        holding = "images/<category>/<index>.png" if data.layout == "risebench" else "<category>/<id>.png"
        raise ConfigError(f"data.outputs={data.outputs} is no folder (the editor's outputs, holding {holding}); "
                          f"evaluator.edit data={data.layout} writes one")  # fmt: skip
    if data.layout == "krisbench" and not Path(str(data.metadata)).expanduser().is_dir():
        raise ConfigError(f"data.metadata={data.metadata} is no folder (the KRIS_Bench folder, holding "
                          "<category>/annotation.json)")  # fmt: skip
    if data.layout == "geditv2":
        if data.dimension_weighting not in ("balanced", "by_matches"):
            weighting = data.dimension_weighting
            raise ConfigError(f"data.dimension_weighting is one of balanced, by_matches, not {weighting!r}")
        if data.bootstrap < 0 or data.alpha < 0 or data.min_outputs < 0:
            raise ConfigError("data.bootstrap, data.alpha and data.min_outputs cannot be negative")
