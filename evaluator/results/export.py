"""Export a run in a benchmark's own result format, so that benchmark's scripts can be run on our scores:
``python -m evaluator.export RUN_DIR --format gedit|imgedit|risebench|geditv2|krisbench|editscore|editreward
--out DIR``.

- ``gedit``: per task type, ``<model>_<task_type>_gpt_score.csv`` with the columns GEdit-Bench's
  ``calculate_statistics.py`` reads (its own spelling, ``sementics_score`` included);
- ``imgedit``: ``average_score.json``, each sample's score by key, as ImgEdit-Bench's ``step2_typescore.py`` reads it;
- ``risebench``: ``<out>/<name of out>.pkl``, the judge's replies per item as RISEBench's ``gpt_eval.py --output
  <out>`` keeps them (``judge1``-``judge3``), so that script computes its tables from them without asking its judge;
  an item without a reply (a missing edit, a failed request) gets an empty one, which it counts as failed;
- ``geditv2``: ``<out>/<judgement>.jsonl`` per dimension, each decisive verdict as its evaluation writes it
  (``{"key": "<query>_pair_<A>_vs_<B>", "results": {"winner": "Image A"}}``; ties and failures left out, as it leaves
  them out), the files its ``elo_score.py --result-files`` reads, in the order its ``elo.sh`` passes them;
- ``krisbench``: ``<out>/<category>/metrics.json`` per category, each item whose every asked score was read as its
  metrics_*.py scripts write it (``instruction``, ``explain``, each ``<x>_score`` on 1-5 and as ``<x>_reasoning``
  the judge's whole reply), the files its ``summarize.py --results_dir <out>`` reads;
- ``editscore`` (a data=pairs run): ``<task type>/<dimension>.jsonl``, each pair's ``score`` as [the people's
  preferred edit's, the other's], as EditScore's ``calculate_statistics.py`` reads it (the pair's category and
  criterion name the folder and file; a pairwise judge's verdict is [1, 0], [0, 1] or [0.5, 0.5]);
- ``editreward`` (a data=pairs run): ``editreward_pairs.json``, each pair's human label h (1, -1, 0) and the judge's
  margin m, the two lists EditReward-Bench's accuracy functions take.

Elsewhere rows without a score (pairs without a verdict) are left out, as the benchmarks' own result files hold only
scored samples. The files are for those scripts, not for a spreadsheet: cells are written as they are.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
from pathlib import Path

from omegaconf import OmegaConf

from evaluator.results.headline import GEDIT_TYPES
from evaluator.results.writing import RUN_FILES, atomic_write, jsonl_line, make_parent, read_run, require_run
from evaluator.runtime.errors import ConfigError, OutputError

GEDIT_COLUMNS = ("source_image", "edited_image", "instruction", "sementics_score", "quality_score",
                 "intersection_exist", "instruction_language")  # fmt: skip


def export_gedit(rows: list[dict], model: str, out: Path, sc: str = "SC", pq: str = "PQ") -> list[Path]:
    """One CSV per GEdit-Bench task type (an empty one, header only, for a type without scored samples).

    Raises:
        ConfigError: the run has no SC and PQ criteria (another judging scheme than VIEScore's).
    """
    scored = [r for r in rows if r.get("score") is not None]
    if scored and not all(sc in r and pq in r for r in scored):
        raise ConfigError(f"the run has no {sc} and {pq} scores; GEdit-Bench's format needs judge=viescore(_official)")
    paths = []
    for task in GEDIT_TYPES:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(GEDIT_COLUMNS)
        for r in (r for r in scored if r.get("category") == task):
            inputs = [r.get("source"), r.get("edited"), r.get("instruction")]
            writer.writerow([*inputs, r[sc], r[pq], bool(r.get("intersection")), r.get("language")])
        paths.append(atomic_write(_inside(out, f"{model}_{task}_gpt_score.csv"), buf.getvalue()))
    return paths


def _inside(out: Path, name: str) -> Path:
    """``out / name``, its folders made; a model name with a slash (``org/model``) makes a folder, as a path joined
    from it would in the benchmark's script, but no name leads out of ``out``.

    Raises:
        ConfigError: the name would lead out of ``out``.
    """
    target = (out / name).resolve()
    if not target.is_relative_to(out.resolve()):
        raise ConfigError(f"the run's data.model_name would put {name!r} outside --out {out}; export it by hand")
    return make_parent(target)


def export_imgedit(rows: list[dict], out: Path) -> list[Path]:
    """``average_score.json``: key -> the sample's score, rounded to 2 decimals as ImgEdit-Bench's step 1 does."""
    scores = {r["id"]: round(float(r["score"]), 2) for r in rows if r.get("score") is not None}
    return [atomic_write(out / "average_score.json", json.dumps(scores, indent=2) + "\n")]


# RISEBench's names for the three judgements of an item, and ours.
RISEBENCH_JUDGES = (("judge1", "ApprConsistency"), ("judge2", "Reasoning"), ("judge3", "VisualPlausibility"))


def export_risebench(rows: list[dict], out: Path) -> list[Path]:
    """The replies of every item RISEBench's layout read, as its script's resume file; see the module docstring.

    Raises:
        ConfigError: a self-ensemble's several replies per judgement, which the file cannot hold.
    """
    judged = {}
    for r in rows:
        variants = r.get("variants")
        if not isinstance(variants, dict):
            continue  # a row the layout could not read has no item there
        entry = {}
        for name, dim in RISEBENCH_JUDGES:
            if dim == "VisualPlausibility" and r.get("category") == "logical_reasoning":
                continue  # its logical items have no third judgement, not even an empty one
            reply = r.get(f"response.{dim}")
            if isinstance(reply, list):
                raise ConfigError("a self-ensemble (judge.samples > 1) has several replies per judgement; "
                                  "RISEBench's file holds one")  # fmt: skip
            entry[name] = None if variants.get(dim) is None else reply if isinstance(reply, str) else ""
        judged[str(r["id"])] = entry
    return [atomic_write(_inside(out, f"{out.resolve().name}.pkl"), pickle.dumps(judged))]


# KRIS-Bench's metrics.json: each score key, the judgement whose reply holds it, and the reasoning key it writes.
KRISBENCH_FIELDS = (("consistency_score", "consistency_score", "consistency_reasoning"),
                    ("instruction_score", "instruction_score", "instruction_reasoning"),
                    ("instruction_score", "dual_evaluation", "instruction_reasoning"),
                    ("knowledge_score", "dual_evaluation", "knowledge_reasoning"),
                    ("quality_score", "quality_score", "quality_reasoning"))  # fmt: skip


def export_krisbench(rows: list[dict], out: Path) -> list[Path]:
    """Each category's ``metrics.json`` as KRIS-Bench's scripts write it; see the module docstring."""
    by_category: dict[str, dict] = {}
    for r in rows:
        variants = r.get("variants")
        if r.get("score") is None or not isinstance(variants, dict):
            continue  # its scripts keep an item only once every score it was asked was read
        entry = {"instruction": r.get("instruction", ""), "explain": r.get("explain", "")}
        for key, judgement, reasoning in KRISBENCH_FIELDS:
            if variants.get(judgement) is not None:
                reply = r.get(f"response.{judgement}")
                entry[key], entry[reasoning] = r.get(key), reply if isinstance(reply, str) else None
        by_category.setdefault(str(r["category"]), {})[str(r["image_id"])] = entry
    text = {c: json.dumps(items, ensure_ascii=False, indent=2) for c, items in by_category.items()}
    return [atomic_write(_inside(out, f"{c}/metrics.json"), t.encode("utf-8")) for c, t in text.items()]


def export_geditv2(rows: list[dict], dimensions: list[str], out: Path) -> list[Path]:
    """Each dimension's decisive verdicts in GEditBench v2's result format; see the module docstring."""
    written = []
    for d in dimensions:
        lines = [jsonl_line({"key": r["id"], "results": {"winner": "Image A" if r[d] == 1.0 else "Image B",
                                                          "raw_response": r.get(f"response.{d}")}})
                 for r in rows if r.get("editor_a") and r.get(d) in (0.0, 1.0)]  # fmt: skip
        written.append(atomic_write(_inside(out, f"{d}.jsonl"), "".join(lines)))
    return written


def export_editscore(pairs: list[dict], out: Path) -> list[Path]:
    """One JSONL file per task type and dimension; pairs a person called a tie have no preferred edit: left out."""
    from evaluator.results.published_agreement import margin

    files: dict[tuple[str, str], list[str]] = {}
    for p in pairs:
        m = margin(p)
        if m is None or p.get("human") not in ("A", "B"):
            continue
        first, second = ("a", "b") if p["human"] == "A" else ("b", "a")
        if p.get("score_a") is not None:
            score = [p[f"score_{first}"], p[f"score_{second}"]]
        else:
            score = {"A": [1.0, 0.0], "B": [0.0, 1.0], "tie": [0.5, 0.5]}[p["winner"]][:: 1 if first == "a" else -1]
        where = (str(p.get("category") or "all"), str(p.get("criterion") or "overall"))
        files.setdefault(where, []).append(json.dumps({"key": p["id"], "score": score}) + "\n")
    return [atomic_write(_inside(out, f"{t}/{d}.jsonl"), "".join(lines)) for (t, d), lines in sorted(files.items())]


def export_editreward(pairs: list[dict], out: Path) -> list[Path]:
    """``editreward_pairs.json``: each labelled pair with a verdict as its id, category, h and m."""
    from evaluator.results.published_agreement import HUMAN, margin

    listed = [{"id": p["id"], "category": p.get("category"), "h": HUMAN[p["human"]], "m": margin(p)}
              for p in pairs if p.get("human") in HUMAN and margin(p) is not None]  # fmt: skip
    return [atomic_write(out / "editreward_pairs.json", json.dumps(listed, indent=1) + "\n")]


PAIRS_FORMATS = {"editscore": export_editscore, "editreward": export_editreward}  # read pairs.jsonl


def export(run_dir: Path, fmt: str, out: Path) -> list[Path]:
    """Write ``run_dir``'s scores into ``out`` in the benchmark format ``fmt``; returns the files written.

    Raises:
        ConfigError: the folder is not a finished run of that benchmark.
        OutputError: ``out`` cannot be created.
    """
    require_run(run_dir, RUN_FILES)  # config.yaml too: the model's name comes from it
    _, rows = read_run(run_dir)
    data = OmegaConf.load(run_dir / "config.yaml").data
    wanted = "pairs" if fmt in PAIRS_FORMATS else fmt
    if data.layout != wanted:  # a pairs or arena run has no headline: the config says what it read
        raise ConfigError(f"{run_dir} is a run of data={data.layout}; --format {fmt} needs a run of data={wanted}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {out}: {e.strerror or e}") from None
    if fmt == "imgedit":
        return export_imgedit(rows, out)
    if fmt == "risebench":
        return export_risebench(rows, out)
    if fmt == "krisbench":
        return export_krisbench(rows, out)
    if fmt == "geditv2":
        scheme = OmegaConf.load(run_dir / "config.yaml").judge
        return export_geditv2(rows, [str(j.name) for j in scheme.judgements], out)
    if fmt in PAIRS_FORMATS:
        pairs = [json.loads(line) for line in (run_dir / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
        return PAIRS_FORMATS[fmt](pairs, out)
    return export_gedit(rows, str(data.model_name), out)
