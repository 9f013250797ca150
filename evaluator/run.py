"""One evaluation run: check the data, score it on every rank, gather the rows and write the results."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import lightning as L
from omegaconf import DictConfig

from evaluator import benchmarks, distributed, logs
from evaluator.benchmarks import Loaded
from evaluator.data import DataError, JudgeData, Problem, Sample, check_samples
from evaluator.judge import JudgeModule
from evaluator.loading import load_processor
from evaluator.prompts import Collator
from evaluator.schemes import Scheme
from evaluator.summary import summarize, to_markdown
from evaluator.writing import write_config, write_results, write_summary

log = logging.getLogger(__name__)


def load_samples(data_cfg) -> Loaded:
    """Read the configured data and check every row before any model is loaded.

    Raises:
        DataError: with every problem found, each with its row.
    """
    loaded = benchmarks.read(data_cfg)
    where = str(data_cfg.get("path") or data_cfg.get("metadata"))
    problems = loaded.problems + check_samples(loaded.samples + loaded.missing, edit_missing=loaded.missing)
    if not loaded.samples and not loaded.missing and not problems:
        problems.append(Problem(0, "-", "no samples"))
    if problems:
        raise DataError(where, sorted(problems, key=lambda p: p.row))
    log.info("%d samples checked in %s", len(loaded.samples), where)
    if loaded.missing:
        log.warning("%d samples have no edited image; they are reported as 'missing edit'", len(loaded.missing))
    return loaded


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
    shards: Sequence[Sequence[dict]], samples: Sequence[Sample], missing: Sequence[Sample] = ()
) -> list[dict]:
    """Put every rank's rows back in input order, with the input fields, checking each sample came once.

    Samples without an edited image get a row with error "missing edit".
    """
    by_index: dict[int, dict] = {}
    for row in (r for shard in shards for r in shard):
        if row["index"] in by_index:
            raise RuntimeError(
                f"sample {row['id']!r} was scored twice (ranks {by_index[row['index']]['rank']}, {row['rank']})"
            )
        by_index[row["index"]] = row
    unscored = [s.id for i, s in enumerate(samples) if i not in by_index]
    if unscored:
        raise RuntimeError(f"{len(unscored)} sample(s) were not scored: {unscored[:10]}")
    merged = [(s.row, {**s.fields(), **_without_index(by_index[i])}) for i, s in enumerate(samples)]
    merged += [(s.row, {**s.fields(), "score": None, "error": "missing edit", "rank": None}) for s in missing]
    return [row for _, row in sorted(merged, key=lambda pair: pair[0])]


def _without_index(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "index"}


def run(cfg: DictConfig) -> Path:
    """Score ``cfg.data`` with the judge ``cfg.model`` / ``cfg.judge`` on ``cfg.trainer``'s devices.

    Every rank calls this; global rank 0 writes ``results.jsonl``, ``results.csv``, ``summary.json``,
    ``summary.md`` and ``config.yaml`` into ``cfg.out_dir``.

    Returns:
        The output folder.
    """
    logs.setup(cfg.get("log_level", "INFO"), rank=distributed.env_rank())
    owns_process_group = not distributed.initialized()
    out_dir = Path(cfg.out_dir).expanduser().resolve()
    logs.add_file(out_dir / "logs" / f"rank-{distributed.env_rank()}.log")
    L.seed_everything(cfg.seed, verbose=False)

    scheme = Scheme.from_config(cfg.judge)
    loaded = load_samples(cfg.data)
    samples = loaded.samples
    processor = load_processor(cfg.model)
    data = JudgeData(
        samples,
        Collator(processor, scheme),
        int(cfg.data.batch_size),
        int(cfg.data.num_workers),
        resize_edited=bool(cfg.data.get("resize_edited", False)),
    )
    module = JudgeModule(cfg.model, scheme, processor, seed=int(cfg.seed))
    trainer = make_trainer(cfg.trainer, callbacks=[distributed.GlobalProgress(len(samples))])
    logs.set_rank(trainer.global_rank, trainer.world_size, trainer.strategy.root_device)

    with logs.around_progress_bar():
        outputs = trainer.predict(module, datamodule=data, return_predictions=True)
    rows = [row for batch in outputs or [] for row in batch]
    log.info("scored %d samples", len(rows))
    shards = distributed.gather_to_rank0(rows)
    if trainer.is_global_zero:
        write_outputs(cfg, scheme, merge_rows(shards, samples, loaded.missing), out_dir)
    if owns_process_group:
        distributed.shutdown()
    return out_dir


def write_outputs(cfg: DictConfig, scheme: Scheme, rows: list[dict], out_dir: Path) -> None:
    """Write every output file of a run and show its summary."""
    summary = summarize(rows, scheme.report, [j.name for j in scheme.judgements])
    out_dir.mkdir(parents=True, exist_ok=True)
    write_results(rows, out_dir)
    write_summary(summary, out_dir)
    write_config(cfg, out_dir)
    log.info("summary of %d samples:\n%s", len(rows), to_markdown(summary))
    log.info("results in %s", out_dir)
