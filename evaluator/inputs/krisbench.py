"""KRIS-Bench's layout: its benchmark folder and an editor's outputs where its ``metrics_*.py`` scripts read them.

The benchmark folder (the scripts' ``BENCH_DIR``, ``KRIS_Bench``) holds one folder per category, each with an
``annotation.json`` (id -> ``ori_img``, ``ins_en``, ``explain_en``, and ``gt_img`` for viewpoint and frame items) and
its images; an editor's outputs lie at ``<data.outputs>/<category>/<id>.png`` (the scripts' ``RESULTS_DIR/<model>``;
``.jpg``, ``.jpeg`` are taken where no PNG is). A sample's id is ``<category>/<id>``: ids repeat across categories.

Each category is judged by one of five scripts, and each asks its own prompts with its own images; this decides, per
item, which (``variants``, named after the prompts without ``prompt_``): ``metrics_common.py`` (seven categories),
``metrics_knowledge.py`` (ten; one reply scores instruction and knowledge), ``metrics_view_change.py`` (the ground
truth shown for instruction following), ``metrics_multi_element.py`` (two to five input images, "Reference Image i")
and ``metrics_temporal_prediction.py`` (three frames and the generated one, in frame order by the numbers in the
file names ``<id>-<frame>``).
"""

from __future__ import annotations

import re
from pathlib import Path

from evaluator.inputs.layout_paths import inside_root, plain_name, split_missing
from evaluator.inputs.samples import Kind, Loaded, Problem, Sample
from evaluator.inputs.tables import read_json_object
from evaluator.runtime.textfiles import read_text_file

COMMON = ("count_change", "color_change", "anomaly_correction", "position_movement", "size_adjustment",
          "part_completion", "multi-instruction_execution")  # fmt: skip
KNOWLEDGE = ("abstract_reasoning", "mathematics", "practical_knowledge", "medicine", "rule-based_reasoning",
             "biology", "geography", "chemistry", "humanities", "physics")  # fmt: skip
VIEW, MULTI, TEMPORAL = "viewpoint_change", "multi-element_composition", "temporal_prediction"
CATEGORIES = (*COMMON, *KNOWLEDGE, VIEW, MULTI, TEMPORAL)
OUTPUT_SUFFIXES = ("png", "jpg", "jpeg")
MAX_SOURCES = 5  # the most input images an item of the benchmark has (a composition of five)
_FRAME = re.compile(r"(\d+)-(\d+)")  # its temporal script's reading of a frame's number from its file name


def read_krisbench(data_cfg) -> Loaded:
    """Every item of every category folder as a sample; see the module docstring."""
    root = Path(str(data_cfg.metadata)).expanduser().resolve()
    outputs = Path(str(data_cfg.outputs)).expanduser().resolve()
    wanted = [str(c) for c in data_cfg.categories or []]
    found = sorted((p.parent.name for p in root.glob("*/annotation.json")), key=_order)
    problems = [Problem(0, c, Kind.BAD_VALUE, f"category folder {c!r} is none of KRIS-Bench's 20")
                for c in found if c not in CATEGORIES]  # fmt: skip
    problems += [Problem(0, c, Kind.FILE, f"data.categories names {c!r}, which {root} has no annotation.json for")
                 for c in wanted if c not in found]  # fmt: skip
    samples, rows = [], 0  # rows count the items of every category read, in KRIS-Bench's order
    for category in (c for c in found if c in CATEGORIES and (not wanted or c in wanted)):
        got, bad, rows = _category(root / category, outputs, category, rows)
        samples += got
        problems += bad
    if not found:
        problems.append(Problem(0, "-", Kind.NO_SAMPLES, f"no <category>/annotation.json under {root}"))
    loaded = split_missing(samples)
    loaded.problems = problems
    return loaded


def _order(category: str) -> int:
    return CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES)


def _category(folder: Path, outputs: Path, category: str, rows: int) -> tuple[list[Sample], list[Problem], int]:
    try:
        items = read_json_object(read_text_file(folder / "annotation.json", "annotation.json"))
        if not all(isinstance(x, dict) for x in items.values()):
            raise ValueError("not a JSON object of id -> item")
    except (OSError, ValueError, RecursionError) as e:
        return [], [Problem(0, category, Kind.FILE, f"{folder / 'annotation.json'} unreadable: {e}")], rows
    samples, problems = [], []
    for row, (key, item) in enumerate(items.items(), start=rows + 1):
        if key in items.repeated:  # json would keep the last silently; its scripts read only that one
            problems.append(Problem(row, f"{category}/{key}", Kind.DUPLICATE_ID, f"id {key} appears more than once"))
            continue
        try:
            samples.append(_sample(category, str(key), item, row, folder, outputs))
        except _ItemProblem as e:
            problems.append(Problem(row, f"{category}/{key}", e.kind, str(e)))
    return samples, problems, rows + len(items)


class _ItemProblem(ValueError):
    def __init__(self, kind: Kind, message: str):
        super().__init__(message)
        self.kind = kind


def _sample(category: str, key: str, item: dict, row: int, folder: Path, outputs: Path) -> Sample:
    names = item.get("ori_img")
    names = [names] if isinstance(names, str) else names
    if not names or not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise _ItemProblem(Kind.MISSING_FIELD, "missing ori_img (a file name, or a list of them)")
    if len(names) > MAX_SOURCES:
        raise _ItemProblem(Kind.BAD_VALUE, f"{len(names)} input images; its compositions have 2 to {MAX_SOURCES}")
    instruction = item.get("ins_en", item.get("instruction"))
    if not isinstance(instruction, str) or not instruction.strip():
        raise _ItemProblem(Kind.MISSING_FIELD, "missing ins_en (the instruction)")
    truth = item.get("gt_img") if category in (VIEW, TEMPORAL) else None
    if category in (VIEW, TEMPORAL) and not (isinstance(truth, str) and truth):
        raise _ItemProblem(Kind.MISSING_FIELD, "missing gt_img (its script shows or needs the ground truth)")
    variants, frame, names = choose_kris_prompts(category, names)
    try:
        plain_name(key, "id")
        sources = [inside_root(folder / n, folder, "ori_img") for n in names]
        reference = inside_root(folder / truth, folder, "gt_img") if category == VIEW else None
        out_folder = inside_root(outputs / category, outputs, "outputs folder")
    except ValueError as e:
        raise _ItemProblem(Kind.OUTSIDE_ROOT, f"path escapes the data root: {e}") from None
    found = [out_folder / f"{key}.{suffix}" for suffix in OUTPUT_SUFFIXES]
    edited = next((p for p in found if p.is_file()), found[0])
    explain = item.get("explain_en", item.get("explain", ""))
    extra = {"image_id": key, "explain": "" if explain is None else str(explain), "variants": variants}
    if frame is not None:
        extra["frame"] = frame
    more = tuple(str(p) for p in sources[1:])
    return Sample(f"{category}/{key}", str(sources[0]), str(edited), instruction, category, None, extra, row,
                  reference=str(reference) if reference else None, more_sources=more)  # fmt: skip


def choose_kris_prompts(category: str, names: list[str]) -> tuple[dict[str, str | None], int | None, list[str]]:
    """The prompt variant each judgement asks of an item of ``category`` (None: not asked), the generated frame's
    number for a frame item, and its input images in the order shown (frames sorted by number).

    Raises:
        _ItemProblem: a frame item whose file names do not leave exactly one of frames 1-4 to generate (its script
            would guess the next frame), or a composition of one image.
    """
    if category in KNOWLEDGE:
        return _named("consist", None, "dual_evaluation", "quality_edited"), None, names
    if category == MULTI:
        if len(names) < 2:
            raise _ItemProblem(Kind.BAD_VALUE, "a composition item with one input image")
        n = len(names)
        return _named(f"consist_multi_{n}", f"instruction_multi_{n}", None, "quality_to_evaluate"), None, names
    if category == TEMPORAL:
        numbers = [int(m.group(2)) if (m := _FRAME.search(n)) else None for n in names]
        missing = {1, 2, 3, 4} - set(numbers)
        if None in numbers or len(names) != 3 or len(set(numbers)) != 3 or len(missing) != 1:
            raise _ItemProblem(Kind.BAD_VALUE, f"frames {names} are not three of frames 1-4 named <id>-<frame>")
        frame = missing.pop()
        ordered = [n for _, n in sorted(zip(numbers, names, strict=True))]
        variants = _named(f"consist_temporal_{frame}", f"instruction_temporal_{frame}", None, "quality_to_evaluate")
        return variants, frame, ordered
    # metrics_common.py asks the abnormal prompt only of a category named "abnormality_correction", which KRIS-Bench
    # does not have: anomaly_correction gets the plain instruction prompt. It labels the edited image, the only one
    # its quality judgement shows, "the original image".
    instruction = "view_instruction_following" if category == VIEW else "instruction_following"
    quality = "quality_edited" if category == VIEW else "quality_as_original"
    return _named("consist", instruction, None, quality), None, names


def _named(consistency: str, instruction: str | None, dual: str | None, quality: str) -> dict[str, str | None]:
    """The variants by judgement of judge=krisbench_official (and judge=krisbench)."""
    return {"consistency_score": consistency, "instruction_score": instruction, "dual_evaluation": dual,
            "quality_score": quality}  # fmt: skip
