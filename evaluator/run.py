"""One evaluation run: check the data, score what is left on every rank, gather the rows and write the results."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import lightning as L
from omegaconf import DictConfig

from evaluator import benchmarks, distributed, logs, report, resume
from evaluator.benchmarks import Loaded
from evaluator.data import DataError, JudgeData, Problem, Sample, check_samples
from evaluator.images import DEFAULT_LIMITS, ImageLimits
from evaluator.judge import JudgeModule
from evaluator.loading import limit_image_size, load_processor
from evaluator.prompts import Collator
from evaluator.sampler import CostModel
from evaluator.schemes import Scheme
from evaluator.summary import summarize, to_markdown
from evaluator.writing import write_config, write_results, write_summary

log = logging.getLogger(__name__)


def load_samples(data_cfg, limits: ImageLimits = DEFAULT_LIMITS) -> tuple[Loaded, list[dict]]:
    """Read the configured data and check every row before any model is loaded.

    With ``data.on_error=skip`` (the default) bad rows are set aside as error rows, each with its reason, and the
    good ones go on; with ``fail`` any problem stops the run.

    Returns:
        The samples to score (and those with a missing edit), and one error row per skipped input row.

    Raises:
        DataError: with every problem found, each with its row, when the run cannot go on.
    """
    loaded = benchmarks.read(data_cfg)
    where = str(data_cfg.get("path") or data_cfg.get("metadata"))
    problems = loaded.problems + check_samples(loaded.samples + loaded.missing, limits, edit_missing=loaded.missing)
    problems.sort(key=lambda p: p.row)
    fatal = [p for p in problems if p.row == 0]
    if fatal or (problems and data_cfg.get("on_error", "skip") == "fail"):
        raise DataError(where, fatal or problems)
    if not loaded.samples and not loaded.missing and not problems:
        raise DataError(where, [Problem(0, "-", "no samples")])
    skipped = skip_rows(problems, loaded)
    if problems:
        log.warning("%s", DataError(where, problems))
        log.warning(
            "skipping %d of %d rows (data.on_error=skip); they get error rows", len(skipped), _total(loaded, skipped)
        )
    log.info("%d samples checked in %s", len(loaded.samples), where)
    if loaded.missing:
        log.warning("%d samples have no edited image; they are reported as 'missing edit'", len(loaded.missing))
    return loaded, skipped


def _total(loaded: Loaded, skipped: list) -> int:
    return len(loaded.samples) + len(loaded.missing) + len(skipped)


def skip_rows(problems: Sequence[Problem], loaded: Loaded) -> list[dict]:
    """Take the rows with problems out of ``loaded`` and return an error row for each, with its reasons.

    A row with a duplicate id keeps its place as ``<id>#row<n>``, so the results still hold every id once.
    """
    by_row: dict[int, list[Problem]] = {}
    for p in problems:
        by_row.setdefault(p.row, []).append(p)
    samples_by_row = {s.row: s for s in loaded.samples + loaded.missing}
    rows = []
    for row, found in by_row.items():
        sample = samples_by_row.get(row)
        duplicate = any(p.reason == "duplicate id" for p in found)
        sample_id = found[0].id if sample is None else sample.id
        fields = sample.fields() if sample else {"id": sample_id}
        if duplicate or sample is None:
            fields["id"] = f"{sample_id}#row{row}"
        reasons = sorted({p.reason for p in found})
        rows.append({"_row": row, **fields, "score": None, "error": "skipped: " + "; ".join(reasons),
                     "error_detail": "; ".join(p.message for p in found), "rank": None})  # fmt: skip
    bad = set(by_row)
    loaded.samples = [s for s in loaded.samples if s.row not in bad]
    loaded.missing = [s for s in loaded.missing if s.row not in bad]
    return rows


def make_trainer(trainer_cfg, callbacks: Sequence[L.Callback] = ()) -> L.Trainer:
    """A Trainer that runs ``predict`` on one process per device, sharding with the judge's own sampler."""
    devices, num_nodes = distributed.topology(trainer_cfg)
    return L.Trainer(
        accelerator=trainer_cfg.accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=distributed.InferenceStrategy(),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        inference_mode=True,
        callbacks=list(callbacks),
    )


def merge_rows(
    shards: Sequence[Sequence[dict]],
    loaded: Loaded,
    previous: dict[str, dict] | None = None,
    skipped: Sequence[dict] = (),
) -> list[dict]:
    """Every input row once, in input order, with its input fields: the rows scored now (from every rank), those
    scored by an earlier run (``previous``, by id), "missing edit" rows and skipped rows.

    Raises:
        RuntimeError: if a sample was scored twice or not at all; a table is never silently wrong.
    """
    previous = previous or {}
    fresh: dict[str, dict] = {}
    for row in (r for shard in shards for r in shard):
        if row["id"] in fresh:
            raise RuntimeError(
                f"sample {row['id']!r} was scored twice (ranks {fresh[row['id']]['rank']}, {row['rank']})"
            )
        fresh[row["id"]] = row
    unscored = [s.id for s in loaded.samples if s.id not in fresh and s.id not in previous]
    if unscored:
        raise RuntimeError(f"{len(unscored)} sample(s) were not scored: {unscored[:10]}")
    merged = [(s.row, {**s.fields(), **_result(fresh.get(s.id) or previous[s.id])}) for s in loaded.samples]
    merged += [(s.row, {**s.fields(), "score": None, "error": "missing edit", "rank": None}) for s in loaded.missing]
    merged += [(r["_row"], {k: v for k, v in r.items() if k != "_row"}) for r in skipped]
    return [row for _, row in sorted(merged, key=lambda pair: pair[0])]


def _result(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("index", "id")}


def run(cfg: DictConfig, model=None) -> Path:
    """Score ``cfg.data`` with the judge ``cfg.model`` / ``cfg.judge`` on ``cfg.trainer``'s devices.

    Every rank calls this; global rank 0 writes ``results.jsonl``, ``results.csv``, ``summary.json``,
    ``summary.md`` and ``config.yaml`` into ``cfg.out_dir``. With ``cfg.resume`` (the default) the samples an
    earlier run in the same ``out_dir`` scored under the same settings are not scored again. ``model`` is an
    already loaded judge for a single process (the benchmark's random-weight judges); by default every rank
    loads ``cfg.model`` itself.

    Returns:
        The output folder.
    """
    logs.setup(cfg.get("log_level", "INFO"), rank=distributed.env_rank())
    owns_process_group = not distributed.initialized()
    out_dir = Path(cfg.out_dir).expanduser().resolve()
    logs.add_file(out_dir / "logs" / f"rank-{distributed.env_rank()}.log")
    L.seed_everything(cfg.seed, verbose=False)

    scheme = Scheme.from_config(cfg.judge)
    limits = ImageLimits.from_config(cfg.data)
    loaded, skipped = load_samples(cfg.data, limits)
    processor = load_processor(cfg.model)
    limit_image_size(processor, cfg.data.get("max_pixels"))
    fingerprint = resume.fingerprint(cfg)
    coordinator = distributed.Coordinator()
    previous: dict[str, dict] = {}

    def pending() -> list[Sample]:
        # Rank 0 reads the shards and tells the others, so every rank shards the same remaining list.
        coordinator.start()
        if coordinator.rank == 0:
            if not cfg.get("resume", True):
                resume.clear(out_dir)
            previous.update(resume.read_previous(out_dir, fingerprint) if cfg.get("resume", True) else {})
        done = set(coordinator.broadcast(lambda: list(previous)))
        todo = [s for s in loaded.samples if s.id not in done]
        if len(todo) < len(loaded.samples):
            log.info(
                "resuming: %d of %d samples were scored by an earlier run",
                len(loaded.samples) - len(todo),
                len(loaded.samples),
            )
        return todo

    module = JudgeModule(cfg.model, scheme, processor, seed=int(cfg.seed), model=model)
    collate = Collator(processor, scheme)
    batch_size = cfg.data.batch_size
    data = JudgeData(
        pending,
        collate,
        batch_size if batch_size == "auto" else int(batch_size),
        int(cfg.data.num_workers),
        resize_edited=bool(cfg.data.get("resize_edited", False)),
        limits=limits,
        cost_model=CostModel.for_judge(processor, scheme, int(cfg.model.max_new_tokens)),
        batch_size_for=lambda items: module.largest_batch(items, collate),
    )
    callbacks = [distributed.GlobalProgress(coordinator), resume.ShardWriter(out_dir, fingerprint)]
    trainer = make_trainer(cfg.trainer, callbacks)
    logs.set_rank(trainer.global_rank, trainer.world_size, trainer.strategy.root_device)

    try:
        with logs.around_progress_bar():
            outputs = trainer.predict(module, datamodule=data, return_predictions=True)
        rows = [row for batch in outputs or [] for row in batch]
        log.info("scored %d samples", len(rows))
        coordinator.wait_for_all("predicted")
        shards = coordinator.gather(rows)
        if trainer.is_global_zero:
            write_outputs(cfg, scheme, merge_rows(shards, loaded, previous, skipped), out_dir)
    except BaseException as e:
        coordinator.fail(e)
        raise
    if owns_process_group:
        distributed.shutdown(coordinator)
    return out_dir


def write_outputs(cfg: DictConfig, scheme: Scheme, rows: list[dict], out_dir: Path) -> None:
    """Write every output file of a run and show its summary."""
    summary = summarize(rows, scheme.report, [j.name for j in scheme.judgements])
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results(rows, out_dir)
    write_summary(summary, out_dir)
    write_config(cfg, out_dir)
    if cfg.get("report", True):
        report.build(out_dir)
    log.info("summary of %d samples:\n%s", len(rows), to_markdown(summary))
    log.info("results in %s", out_dir)
