"""The editing stage, top to bottom: (1) read the rows and check every source, (2) decide what is left to edit,
(3) hand the DataModule the samples, each at the size it is edited at, (4) predict: every rank edits its share and
writes each edit as it is made, (5) gather the rows on rank 0 and write what the judge reads beside the edits.

It runs on the judge's machinery (``evaluator.judge.stage``): the same launchers, pre-flight checks, plan, sharding,
content-keyed resume, signals and failure handling. Every rank runs all five steps and follows rank 0's plan.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections import Counter
from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf

from evaluator.edit import checks, layouts
from evaluator.edit.module import EditDataset, EditModule, collate_edits, output_size
from evaluator.inputs import preflight, readers
from evaluator.inputs.images import ImageLimits
from evaluator.results import resume, run_folder
from evaluator.results.plan import Plan, make_plan, merge_rows, rows_to_resume
from evaluator.results.writing import atomic_write, jsonl_line, write_config, write_index
from evaluator.runtime import job, logs
from evaluator.runtime.coordination import Coordinator
from evaluator.runtime.dataset import ShardedData
from evaluator.runtime.errors import ConfigError
from evaluator.runtime.hashing import checkpoint_digest, file_digest
from evaluator.runtime.progress import GlobalProgress

log = logging.getLogger(__name__)

# The editor settings that change an edit (batch size, world size and the local-files switch do not).
_SETTINGS = ("name_or_path", "revision", "variant", "dtype", "num_inference_steps", "guidance_scale", "resolution",
             "multiple_of", "call")  # fmt: skip
EDITS_FILE = "edits.jsonl"


def run(cfg: DictConfig) -> Path:
    """Make the edits of ``cfg.data`` with ``cfg.editor`` on ``cfg.trainer``'s devices, each edit exactly once.

    Every rank calls this; each writes its own edits, and global rank 0 writes ``edits.jsonl``, ``editor.yaml``,
    ``summary.json``, ``config.yaml`` and what the judge reads (see ``evaluator.edit.layouts``). With
    ``cfg.resume`` an edit an earlier run wrote for the same source, instruction and editor settings, and that is
    still on disk unchanged, is not made again.

    Returns:
        The folder of the run's records (for a manifest, also of the edits).
    """
    checks.check_edit(cfg)
    out_dir = Path(cfg.out_dir).expanduser().resolve()
    layouts.refuse_own_input(cfg.data, out_dir)
    job.prepare(cfg, out_dir, log_name="edit")
    job.launch(cfg, functools.partial(edit, cfg, out_dir=out_dir))
    return out_dir


def settings(cfg: DictConfig) -> dict:
    """Everything that changes an edit: the editor's settings, the seed, the source's orientation, and for a local
    checkpoint the digest of its files' bytes (a checkpoint saved again under the same folder is another editor)."""
    editor = {k: OmegaConf.to_container(cfg.editor, resolve=True)[k] for k in _SETTINGS}
    files = checkpoint_digest(cfg.editor.name_or_path)
    return {"editor": editor, "seed": cfg.seed, "exif_transpose": cfg.data.exif_transpose, "files": files}


def edit_fingerprint(cfg: DictConfig) -> str:
    """A short hash of ``settings``: edits are reused, and a folder is shared, only under the same one."""
    return hashlib.sha256(json.dumps(settings(cfg), sort_keys=True, default=str).encode()).hexdigest()[:16]


def edit(cfg: DictConfig, trainer: L.Trainer, out_dir: Path, pipeline=None) -> Coordinator:
    """The five steps on one rank, with the process group up; returns the coordinator. ``pipeline``: an already
    loaded one (single process), else every rank loads ``cfg.editor``."""
    with job.on_rank(trainer, out_dir) as (coordinator, lock):
        fp = coordinator.broadcast("fingerprint", lambda: edit_fingerprint(cfg))  # hashed once, on rank 0
        loaded, plan = _plan(cfg, coordinator, out_dir, fp, lock)  # steps 1, 2
        _announce(cfg, plan, trainer)
        rows, timing = _predict(cfg, trainer, coordinator, plan, out_dir, fp, pipeline) if plan.todo else ([], {})
        shards = coordinator.gather("edits", (rows, timing))  # step 5
        if coordinator.rank == 0:
            write_edit_outputs(cfg, plan, loaded, shards, out_dir, fp)
        coordinator.wait_for_all("written")  # a stage after this one (the judge) reads what rank 0 wrote
    return coordinator


def _plan(cfg, coordinator: Coordinator, out_dir: Path, fp: str, lock: run_folder.Lock):
    """Steps 1 and 2: every rank reads the rows and checks its share of the sources; rank 0 takes the folder,
    keeps the earlier edits still on disk as they were, and decides; every rank gets the same plan."""
    layouts.refuse_own_input(cfg.data, out_dir)  # also for the pipeline, which starts here
    loaded = layouts.read_edit_rows(cfg.data, out_dir)
    rows = loaded.samples
    limits, no_edit = ImageLimits.from_config(cfg.data), frozenset(range(len(rows)))  # only sources: edits are made
    share = preflight.check_share(
        rows, limits, coordinator.rank, coordinator.world_size, no_edit, tokens=len,
        max_tokens=cfg.editor.max_instruction_chars, limit="editor.max_instruction_chars", unit="characters",
        store=preflight.image_facts_store(),
    )  # fmt: skip
    shares = coordinator.gather("checked", share)

    def decide() -> Plan:
        lock.acquire()
        _refuse_foreign_edits(out_dir, loaded.samples, cfg.resume)
        run_folder.claim(out_dir, cfg.data, cfg.resume, editor=fp)
        previous = _on_disk(rows_to_resume(out_dir, fp, keep=cfg.resume), loaded.samples)
        where = readers.describe(cfg.data)
        findings = preflight.merge(shares, rows, limits, no_edit, upright=cfg.data.exif_transpose)
        return make_plan(loaded, findings, where, cfg.data.on_error, previous, ("edited", "editing"),
                         readers.paths_from(cfg.data))  # fmt: skip

    return loaded, coordinator.broadcast("plan", decide)


def _refuse_foreign_edits(out_dir: Path, samples, resume: bool) -> None:
    """A results folder that already holds edits this stage did not make (another script's, another model's under
    the same name) is not overwritten unless ``resume=false`` says so."""
    if not resume or (out_dir / run_folder.IDENTITY).exists():
        return
    found = [s.edited for s in samples if Path(s.edited).is_file()]
    if found:
        raise ConfigError(
            f"{len(found)} edit(s) already lie where this run would write, e.g. {found[0]}, and evaluator.edit did "
            "not make them; choose another folder (for GEdit-Bench another data.model_name), or resume=false to "
            "replace them"
        )


def _on_disk(previous: dict[str, dict], samples) -> dict[str, dict]:
    """The earlier edits whose file is still where this run writes it, with the bytes it was written with."""
    targets = {s.id: Path(s.edited) for s in samples}
    kept, gone = {}, 0
    for sample_id, row in previous.items():
        if row.get("error") is not None:
            continue  # an edit that failed (out of memory, blocked) is tried again
        target = targets.get(sample_id)
        if target is not None and target.is_file() and file_digest(str(target)) == row.get("sha256"):
            kept[sample_id] = row
        elif target is not None:
            gone += 1
    if gone:
        log.warning("%d earlier edits are missing or changed on disk; making them again", gone)
    return kept


def _announce(cfg: DictConfig, plan: Plan, trainer: L.Trainer) -> None:
    e = cfg.editor
    where = f"{trainer.world_size} rank(s) ({trainer.strategy.root_device.type})"
    size = "the source's size" if e.resolution is None else f"about {e.resolution}x{e.resolution}"
    log.info(
        "plan: %d samples to edit on %s, editor %s (%d steps, %s); %d edited earlier, %d skipped",
        len(plan.todo), where, e.name_or_path, e.num_inference_steps, size, len(plan.done), len(plan.skipped),
    )  # fmt: skip
    if str(e.name_or_path).startswith("tiny:"):
        log.info("the tiny editor has random weights: its edits are noise, for smoke runs and tests only")


def _predict(cfg, trainer, coordinator, plan: Plan, out_dir: Path, fp: str, pipeline) -> tuple[list[dict], dict]:
    """Steps 3 and 4: the plan's samples to the DataModule, each at its edit's size (a batch holds one size),
    balanced by pixels; every rank edits its share."""
    e = cfg.editor
    sizes = [output_size(*found["source"], e.resolution, e.multiple_of) for found in plan.sizes]
    module = EditModule(e, cfg.seed, pipeline)
    dataset = EditDataset(plan.todo, sizes, ImageLimits.from_config(cfg.data), cfg.data.exif_transpose)
    costs = [float(w * h) for w, h in sizes]
    data = ShardedData(dataset, collate_edits, e.batch_size, cfg.data.num_workers, costs=costs, keys=sizes)
    progress = GlobalProgress(coordinator, total=len(plan.todo), desc="editing")
    # In this order: a batch's rows reach the shard before a stop or a failure elsewhere ends the rank.
    callbacks = [resume.ShardWriter(out_dir, fp, plan.digests), progress, job.StopOnSignal(coordinator.check)]
    start = time.perf_counter()
    with job.callbacks_during(trainer, callbacks), logs.around_progress_bar():
        outputs = trainer.predict(module, datamodule=data, return_predictions=True)
        timing = {"load": module.load_seconds, "predict": time.perf_counter() - start - module.load_seconds}
        coordinator.wait_for_all("edited", on_poll=progress.refresh)
    progress.close()
    module.release()  # its memory goes back before anything else loads on this device
    rows = [row for batch in outputs or [] for row in batch]
    log.info("edited %d samples", len(rows), extra=logs.FILE_ONLY)
    return rows, timing


def write_edit_outputs(cfg: DictConfig, plan: Plan, loaded, shards, out_dir: Path, fp: str) -> None:
    """Every record of the run: ``edits.jsonl`` (a row per input row, in input order), what the judge reads beside
    the edits, ``editor.yaml``, ``summary.json`` and ``config.yaml``, then the index ``files.json``."""
    fresh_rows = [r for rows, _ in shards for r in rows]
    rows = [{k: v for k, v in r.items() if k != "score"} for r in merge_rows([r for r, _ in shards], plan)]
    samples = {s.id: s for s in loaded.samples}
    written = [atomic_write(out_dir / EDITS_FILE, "".join(jsonl_line(r) for r in rows))]
    written += layouts.write_beside(cfg.data, rows, samples, out_dir, {r["id"] for r in fresh_rows})
    record = {**settings(cfg), "fingerprint": fp, "diffusers": _version("diffusers")}
    written.append(atomic_write(out_dir / layouts.RECORD, OmegaConf.to_yaml(OmegaConf.create(record))))
    summary = summarize_edits(rows, fresh_rows, [t for _, t in shards if t], reused=len(plan.done))
    written.append(atomic_write(out_dir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n"))
    written.append(write_config(cfg, out_dir))
    write_index(out_dir, written)
    s = summary["seconds_per_image"]
    log.info(
        "%d rows: %d edited now, %d earlier, %d failed%s; per image %.3fs in the pipeline, %.3fs writing, %.3fs other",
        summary["rows"], summary["edited"], summary["reused"], summary["failed"],
        "".join(f"\n  {n} x {reason}" for reason, n in summary["errors"].items()), s["pipeline"], s["writing"],
        s["other"],
    )  # fmt: skip
    log.info("edits written; records in %s", out_dir)


def summarize_edits(rows: list[dict], fresh: list[dict], timings: list[dict], reused: int) -> dict:
    """Counts, the failures by reason, and how the time of this run's edits split: the pipeline's own calls,
    writing the images, and everything else on the ranks (loading and resizing the sources, our callbacks)."""
    errors = Counter(r["error"] for r in rows if r.get("error"))
    made = [r for r in fresh if r.get("error") is None]
    pipeline = sum(r.get("seconds") or 0.0 for r in fresh)
    writing = sum(r.get("save_seconds") or 0.0 for r in fresh)
    busy = sum(t["predict"] for t in timings)  # every rank's seconds in predict, loading excluded
    per = max(len(fresh), 1)
    return {
        "rows": len(rows),
        "edited": len(made),
        "reused": reused,
        "failed": sum(errors.values()),
        "errors": dict(errors),
        "seconds": {
            "load_max": round(max((t["load"] for t in timings), default=0.0), 3),
            "rank_seconds": round(busy, 3),
            "pipeline": round(pipeline, 3),
            "writing": round(writing, 3),
        },
        "seconds_per_image": {
            "pipeline": round(pipeline / per, 4),
            "writing": round(writing / per, 4),
            "other": round(max(busy - pipeline - writing, 0.0) / per, 4),
        },
    }


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None
