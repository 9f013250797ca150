"""RISEBench's layout: its data file, its images, and an editor's outputs where its ``gpt_eval.py`` reads them.

The data file is a JSON list of items (``index``, ``category``, ``instruction``, ``image``, and as an item needs them
``reference``, ``reference_img``, ``reference_txt``, ``reasoning_img``, ``consistency_free``, ``subtask``); images are
found under ``data.images`` (the script's ``--input``), outputs at ``<data.outputs>/images/<category>/<index>.png``
(or ``.jpg``, ``.jpeg``, in that order).

For each item this decides what the script decides from it, so that the judge asks the same things: which prompt
each of its three judgements uses, or that it asks none (``variants``), and how its score weighs them
(``score_weights``). The script reads the file as a pandas table, where every item has every column and a field an
item lacks is NaN; two of its tests follow from that and are kept here: a logical item with a reference image gets
the prompt without the question whenever any item has ``reasoning_wo_ins``, and an item without
``consistency_free`` is weighed as consistency-free whenever any other item has the field (NaN is true).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from evaluator.inputs.layout_paths import inside_root, plain_name, split_missing
from evaluator.inputs.samples import Kind, Loaded, Problem, Sample
from evaluator.runtime.textfiles import read_text_file
from evaluator.scoring.risebench import FREE_WEIGHTS, LOGICAL_WEIGHTS, STANDARD_WEIGHTS

TEMPORAL, CAUSAL, SPATIAL, LOGICAL = "temporal_reasoning", "causal_reasoning", "spatial_reasoning", "logical_reasoning"
CATEGORIES = (TEMPORAL, CAUSAL, SPATIAL, LOGICAL)
OUTPUT_SUFFIXES = ("png", "jpg", "jpeg")  # the order its find_image tries
REQUIRED = ("index", "category", "instruction", "image")
# The item's own fields a prompt may fill in or a table may group by.
KEPT = ("subtask", "reference", "reference_txt", "reference_img", "reasoning_img", "consistency_free")


def read_risebench(data_cfg) -> Loaded:
    """Every item of the data file as a sample (id: its ``index``); see the module docstring."""
    meta = Path(str(data_cfg.metadata)).expanduser().resolve()
    try:
        items = json.loads(read_text_file(meta, "data.metadata"))
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise ValueError("not a JSON list of items")
    except (OSError, ValueError, RecursionError) as e:
        return Loaded(problems=[Problem(0, "-", Kind.FILE, f"RISEBench data unreadable: {e}")])
    images = Path(str(data_cfg.images or meta.parent)).expanduser().resolve()
    outputs = Path(str(data_cfg.outputs)).expanduser().resolve()
    columns = {k for item in items for k in item}
    samples, problems, seen = [], [], set()
    for row, item in enumerate(items, start=1):
        label = str(item.get("index", "-"))
        try:
            sample = _sample(item, row, columns, images, outputs)
        except _ItemProblem as e:
            problems.append(Problem(row, label, e.kind, str(e)))
            continue
        if sample.id in seen:
            problems.append(Problem(row, sample.id, Kind.DUPLICATE_ID, f"index {sample.id} appears more than once"))
            continue
        seen.add(sample.id)
        samples.append(sample)
    loaded = split_missing(samples)
    loaded.problems = problems
    return loaded


class _ItemProblem(ValueError):
    def __init__(self, kind: Kind, message: str):
        super().__init__(message)
        self.kind = kind


def _sample(item: dict, row: int, columns: set, images: Path, outputs: Path) -> Sample:
    missing = [c for c in REQUIRED if not is_set(item, c)]
    if missing:
        raise _ItemProblem(Kind.MISSING_FIELD, f"missing {', '.join(missing)}")
    index, category = str(item["index"]), str(item["category"])
    if category not in CATEGORIES:
        raise _ItemProblem(Kind.BAD_VALUE, f"category {category!r} is none of RISEBench's {', '.join(CATEGORIES)}")
    variants, uses_reference = choose_prompts(item, columns)
    try:
        plain_name(index, "index")
        source = inside_root(images / str(item["image"]), images, "image")
        reference = inside_root(images / str(item.get("reference_img")), images, "reference_img")
        folder = inside_root(outputs / "images" / category, outputs, "outputs folder")
    except ValueError as e:
        raise _ItemProblem(Kind.OUTSIDE_ROOT, f"path escapes the data root: {e}") from None
    found = [folder / f"{index}.{suffix}" for suffix in OUTPUT_SUFFIXES]
    edited = next((p for p in found if p.is_file()), found[0])
    extra = {k: item[k] for k in KEPT if k in item}
    extra.update(variants=variants, score_weights=score_weights(item, columns))
    return Sample(index, str(source), str(edited), str(item["instruction"]), category, None, extra, row,
                  reference=str(reference) if uses_reference else None)  # fmt: skip


def is_set(item: dict, key: str) -> bool:
    """The script's ``not pd.isna(item[key])``: present, and neither null nor NaN."""
    value = item.get(key)
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def choose_prompts(item: dict, columns: set) -> tuple[dict[str, str | None], bool]:
    """The prompt each judgement asks of the item (None: not asked), named after the script's prompt without its
    ``prompt_`` prefix, and whether a prompt shows its reference image; as ``eval_vanilla`` chooses them.

    Raises:
        _ItemProblem: an item the script cannot judge (it would stop, or send "nan" for a reference).
    """
    category = item["category"]
    uses_reference = False
    if category in (TEMPORAL, CAUSAL):
        _need(item, "reference")
        consistency, quality = "consist", "generation"
        reasoning = "reasoning_w_input" if is_set(item, "reasoning_img") else "reasoning"
    elif category == SPATIAL:
        consistency, quality = "spatial_cons", "spatial_qual"
        if is_set(item, "reference_img"):  # its consistency judgement is shown the reference image too
            consistency, reasoning, uses_reference = "spatial_cons_ref_img", "spatial_ref_img", True
        else:
            _need(item, "reference")
            reasoning = "spatial_ref_w_input" if is_set(item, "reasoning_img") else "spatial_ref"
    elif is_set(item, "reference_txt"):
        consistency, reasoning, quality = "logical_cons_ans", "logical_txt", None
    elif is_set(item, "reference_img"):
        uses_reference, quality = True, None
        consistency = "logical_cons"
        reasoning = "logical_img_wo_q" if "reasoning_wo_ins" in columns else "logical_img"
    else:
        raise _ItemProblem(Kind.MISSING_FIELD, "missing reference_txt or reference_img (a logical item needs one)")
    if "consistency_free" in columns and is_set(item, "consistency_free"):
        if category == LOGICAL:
            raise _ItemProblem(Kind.BAD_VALUE, "consistency_free on a logical item: gpt_eval.py has no score for it")
        consistency = None
    variants = {"ApprConsistency": consistency, "Reasoning": reasoning, "VisualPlausibility": quality}
    return variants, uses_reference


def _need(item: dict, key: str) -> None:
    if not is_set(item, key):
        raise _ItemProblem(Kind.MISSING_FIELD, f"missing {key} (its reasoning prompt quotes it)")


def score_weights(item: dict, columns: set) -> dict[str, float]:
    """How ``calculate_score`` weighs the item's dimensions: a logical item 0.3/0.7; another 0.2 plausibility and
    0.8 reasoning where ``consistency_free`` is true (NaN included: an item without it while others have it),
    else 0.3 consistency, 0.5 reasoning, 0.2 plausibility."""
    if item["category"] == LOGICAL:
        return dict(LOGICAL_WEIGHTS)
    if "consistency_free" in columns:
        value = item.get("consistency_free", math.nan)  # the table's NaN for an item without the field
        if bool(value):
            return dict(FREE_WEIGHTS)
    return dict(STANDARD_WEIGHTS)
