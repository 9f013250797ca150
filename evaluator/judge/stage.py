"""One evaluation run, top to bottom: (1) read and check the inputs, (2) decide what is left to score, (3) hand
the DataModule a plain list, (4) predict, (5) gather the rows on rank 0 and write the results.

Every rank runs all five steps; rank 0 makes the plan from every rank's share of the checks and sends it to the
others, so all of them follow the same plan.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections import Counter
from pathlib import Path

import lightning as L
from omegaconf import DictConfig, OmegaConf

from evaluator.config import checks
from evaluator.edit import layouts
from evaluator.inputs import preflight, readers
from evaluator.judge import server, vllm_engine, vllm_server
from evaluator.judge.loading import load_processor
from evaluator.judge.module import JudgeModule
from evaluator.results import geditv2, report, resume, run_folder
from evaluator.results.agreement import agreement_of
from evaluator.results.headline import protocol_of
from evaluator.results.pairs import pair_rows, pairs_summary
from evaluator.results.plan import Plan, make_plan, merge_rows, rows_to_resume
from evaluator.results.ratings import ratings_of
from evaluator.results.summary import summarize, summary_markdown
from evaluator.results.writing import atomic_write, jsonl_line, write_config, write_index, write_results, write_summary
from evaluator.runtime import job, logs, stopping
from evaluator.runtime.coordination import Coordinator
from evaluator.runtime.dataset import PairDataset, ShardedData
from evaluator.runtime.errors import ConfigError
from evaluator.runtime.hashing import file_digest
from evaluator.runtime.logs import escape
from evaluator.runtime.progress import GlobalProgress
from evaluator.runtime.sampler import CostModel
from evaluator.scoring import krisbench, risebench
from evaluator.scoring.official import source_record
from evaluator.scoring.prompts import Collator, prompt_records
from evaluator.scoring.schemes import Scheme

log = logging.getLogger(__name__)


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
    checks.check_judge(cfg, checkpoint=model is None)
    out_dir = Path(cfg.out_dir).expanduser().resolve()
    job.prepare(cfg, out_dir)
    if cfg.backend != "local":  # no Lightning: servers judge (one process for api; a rank per GPU or one for vllm)
        with stopping.handling(), job.without_lightning():
            score(cfg, None, out_dir, None).shutdown()
        return out_dir
    job.launch(cfg, functools.partial(score, cfg, out_dir=out_dir, model=model))
    return out_dir


def score(cfg: DictConfig, trainer: L.Trainer | None, out_dir: Path, model=None) -> Coordinator:
    """The five steps on one rank, with the process group up; returns the coordinator, for shutting down.
    ``trainer`` is None for ``backend=api`` and ``backend=vllm``."""
    with job.on_rank(trainer, out_dir, cfg.backend) as (coordinator, lock):
        scheme = Scheme.from_config(cfg.judge)
        fp = coordinator.broadcast("fingerprint", lambda: _fingerprint(cfg, scheme))  # hashed once, on rank 0
        local = trainer is not None or cfg.backend == "vllm"
        processor = load_processor(cfg.model, cfg.data.max_pixels) if local else None
        plan = _plan(cfg, scheme, coordinator, out_dir, fp, lock, processor and processor.tokenizer)  # steps 1, 2
        _announce(cfg, scheme, plan, trainer, coordinator.world_size)
        if cfg.dry_run:
            if coordinator.rank == 0:
                write_prompts(cfg, scheme, plan, out_dir)
            return coordinator
        if not plan.todo:
            rows = []
        elif cfg.backend == "vllm":
            rows = vllm_engine.judge_share(cfg, scheme, plan, out_dir, fp, coordinator, processor)
        elif trainer is None:
            rows = server.predict(cfg, scheme, plan.todo, plan.digests, out_dir, fp)
        else:
            rows = _predict(cfg, trainer, coordinator, scheme, plan, out_dir, fp, processor, model) if plan.todo else []
        shards = coordinator.gather("rows", rows)  # step 5
        if coordinator.rank == 0:
            write_judge_outputs(cfg, scheme, merge_rows(shards, plan), out_dir)
    return coordinator


def _fingerprint(cfg, scheme: Scheme) -> str:
    """The scores' settings, hashed; on vLLM its distribution and version too (``vllm.python`` checked here, before
    anything loads)."""
    engine = vllm_server.engine_of(cfg.vllm) if cfg.backend == "vllm" else None
    if engine:
        log.info("vllm: %s (vllm.python=%s)", engine, vllm_server.interpreter(cfg.vllm))
    return resume.score_fingerprint(cfg, scheme, engine)


def _plan(
    cfg, scheme: Scheme, coordinator: Coordinator, out_dir: Path, fp: str, lock: run_folder.Lock, tokenizer
) -> Plan:
    """Steps 1 and 2: every rank reads the inputs and checks its share of the images; rank 0 takes the output
    folder, gathers the findings, reads what an earlier run left, and decides; every rank gets the same plan."""
    max_chars = cfg.api.max_instruction_chars if cfg.backend == "api" else None  # the server's tokens unknown
    loaded, share = preflight.read_and_check(
        cfg.data, coordinator.rank, coordinator.world_size, tokenizer, max_chars, scheme.pairwise, scheme.criteria
    )
    shares = coordinator.gather("checked", share)

    def decide() -> Plan:
        lock.acquire()
        run_folder.claim(out_dir, cfg.data, cfg.resume)
        previous = rows_to_resume(out_dir, fp, keep=cfg.resume)
        findings = preflight.findings_of(cfg.data, loaded, shares)
        plan = make_plan(loaded, findings, readers.describe(cfg.data), cfg.data.on_error, previous,
                         paths_from=readers.paths_from(cfg.data),
                         share_identical=cfg.data.layout == "pairs")  # fmt: skip
        _check_categories(cfg, scheme, plan)
        _check_criteria(scheme, plan)
        return plan

    return coordinator.broadcast("plan", decide)


def _check_criteria(scheme: Scheme, plan: Plan) -> None:
    """A pairs file's ``criterion`` column names the score that decides each pair: one of the scheme's criteria."""
    named = Counter(str(s.extra["criterion"]) for s in [*plan.todo, *plan.done] if s.extra.get("criterion"))
    if not named:
        return
    if scheme.pairwise:
        log.warning("judge=%s gives one verdict per pair; the pairs' criterion column (%s) only groups the "
                    "agreement", scheme.name, ", ".join(sorted(named)))  # fmt: skip
        return
    unknown = sorted(c for c in named if c not in scheme.criteria)
    if unknown:
        raise ConfigError(f"the pairs' criterion column names {', '.join(map(escape, unknown))}, which judge="
                          f"{scheme.name} does not score; it scores {', '.join(scheme.criteria)}")  # fmt: skip


def _check_categories(cfg: DictConfig, scheme: Scheme, plan: Plan) -> None:
    """Say once which categories get the default rubric; stop if an official per-type prompt lacks one, or a
    benchmark's per-item prompt is not the scheme's."""
    try:
        scheme.check_asked([*plan.todo, *plan.done])
    except ValueError as e:
        raise ConfigError(f"{e}; data={cfg.data.layout} judge={scheme.name}") from None
    fallback, missing = scheme.uncovered([*plan.todo, *plan.done])
    if missing:
        listed = ", ".join(f"{escape(c)} ({n})" for c, n in sorted(missing.items()))
        source = cfg.judge.official_source
        raise ConfigError(f"judge.official_source={source} has no prompt for the edit types {listed}")
    if fallback:
        listed = ", ".join(f"{escape(c)} ({n} samples)" for c, n in sorted(fallback.items()))
        log.warning("judge=%s has no rubric for %s; they get its default rubric", scheme.name, listed)


def write_prompts(cfg: DictConfig, scheme: Scheme, plan: Plan, out_dir: Path) -> None:
    """``dry_run``: every prompt of the plan's samples to ``prompts.jsonl``, and the run's config; no judge."""
    records = prompt_records(scheme, [*plan.todo, *plan.done])
    text = "".join(jsonl_line(r) for r in records)
    write_index(out_dir, [atomic_write(out_dir / "prompts.jsonl", text), write_config(cfg, out_dir)])
    log.info("dry run: %d prompts of %d samples in %s", len(records), len(plan.todo) + len(plan.done),
             out_dir / "prompts.jsonl")  # fmt: skip


def _announce(cfg: DictConfig, scheme: Scheme, plan: Plan, trainer: L.Trainer | None, world: int) -> None:
    if cfg.backend == "vllm":
        where = f"{world} rank(s) (vLLM servers, {cfg.vllm.max_num_seqs} requests at a time each)"
        judge = cfg.model.name_or_path
    elif trainer is None:
        servers = checks.api_servers(cfg.api)
        each = " per server" if len(servers) > 1 else ""
        lossy = ", images that must change sent as lossy JPEG" if cfg.api.image_format == "jpeg" else ""
        where = f"1 process (api, {cfg.api.concurrency} requests at a time{each}{lossy})"
        judge = f"{cfg.api.model} at {', '.join(servers)}"
    else:
        k = cfg.trainer.gpus_per_replica
        each = f"{k} GPUs each, " if k > 1 else ""
        where = f"{trainer.world_size} rank(s) ({each}{trainer.strategy.root_device.type})"
        judge = cfg.model.name_or_path
    log.info(
        "plan: %d samples to score on %s, judge %s, scheme %s (%s); %d scored earlier, %d skipped, %d without an edit",
        len(plan.todo), where, judge, scheme.name, scheme.mode, len(plan.done), len(plan.skipped), len(plan.missing),
    )  # fmt: skip
    if cfg.backend != "api" and str(cfg.model.name_or_path).startswith("tiny:"):
        log.info("the tiny judge has random weights: its scores are noise, for smoke runs and tests only")


def _predict(cfg, trainer, coordinator, scheme, plan: Plan, out_dir: Path, fp: str, processor, model) -> list[dict]:
    """Steps 3 and 4: the plan's samples to the DataModule, balanced by cost; every rank scores its share."""
    costs = CostModel.for_judge(processor, scheme, scheme.max_new_tokens or cfg.model.max_new_tokens)
    resize = cfg.data.resize_edited
    replica = (cfg.trainer.gpus_per_replica, cfg.trainer.max_memory_fraction)
    module = JudgeModule(cfg.model, scheme, processor, seed=cfg.seed, model=model, replica=replica)
    collate = Collator(processor, scheme)
    data = ShardedData(
        PairDataset.from_config(plan.todo, cfg.data),
        collate,
        cfg.data.batch_size,
        cfg.data.num_workers,
        costs=[
            costs.cost({**s, **({r: s["source"] for r in t.images[1:]} if resize else {})}, t.instruction)
            for s, t in zip(plan.sizes, plan.todo, strict=True)
        ],
        batch_size_for=lambda items: module.largest_batch(items, collate),
    )
    progress = GlobalProgress(coordinator, total=len(plan.todo))
    # In this order: a batch's rows reach the shard before a stop or a failure elsewhere ends the rank.
    writer = resume.ShardWriter(out_dir, fp, plan.digests)
    callbacks = [writer, progress, job.StopOnSignal(coordinator.check)]
    start = time.perf_counter()
    with job.callbacks_during(trainer, callbacks), logs.around_progress_bar():
        outputs = trainer.predict(module, datamodule=data, return_predictions=True)
        coordinator.wait_for_all("predicted", on_poll=progress.refresh)
    progress.close()
    rows = [row for batch in outputs or [] for row in batch]
    log.info("scored %d samples in %.1f s (loading the judge included)", len(rows), time.perf_counter() - start,
             extra=logs.FILE_ONLY)  # fmt: skip
    return rows


def write_judge_outputs(cfg: DictConfig, scheme: Scheme, rows: list[dict], out_dir: Path) -> None:
    """Write every output file of a run and show its summary. The report is a view of the results: if it cannot
    be drawn, that is a warning, and the results stand."""
    judgements = [j.name for j in scheme.judgements]
    protocol = protocol_of(cfg.data.layout, scheme)
    elo = geditv2.elo_leaderboard(rows, judgements, cfg.data) if protocol == "geditv2" else None  # its settings: data's
    summary = summarize(rows, scheme.report, judgements, scheme.overall, protocol, scheme.parser, headline=elo)
    source = cfg.judge.official_source  # which version of a benchmark's own prompts the scores followed
    summary["scheme"] = {"name": scheme.name, "parser": scheme.parser, **(source_record(source) if source else {})}
    if protocol in ("risebench", "krisbench"):  # its scripts' version and rules that the tables follow
        summary["scheme"]["protocol"] = {"risebench": risebench.PROTOCOL, "krisbench": krisbench.PROTOCOL}[protocol]
    templates = sorted({p.file for j in scheme.judgements for p in j.prompts if p.file})
    if templates:  # a benchmark's prompt templates (GEditBench v2): each file's digest
        summary["scheme"]["official_files_sha256"] = {t: file_digest(t) for t in templates}
    record = layouts.record_of(cfg.data)  # the edits were made by evaluator.edit: say with which editor
    if record is not None:
        record = record.read_bytes()
        summary["editor"] = OmegaConf.to_container(OmegaConf.create(record.decode("utf-8")))
        log.info("the edits were made by %s (its editor.yaml is copied into %s)",
                 summary["editor"].get("editor", {}).get("name_or_path"), out_dir)  # fmt: skip
    written = [*write_results(rows, out_dir), write_config(cfg, out_dir)]
    if cfg.data.layout in ("pairs", "arena"):
        pairs = pair_rows(rows, scheme.overall, scheme.pairwise)
        summary.pop("headline", None)  # a mean over both orders' verdicts is no benchmark's figure
        summary["pairs"] = pairs_summary(pairs)
        if any(p.get("human") for p in pairs):
            summary["agreement"] = agreement_of(pairs)
        elif cfg.data.layout == "pairs":
            log.info("no pair has a person's verdict (a 'human' column of A, B or tie): no agreement with people "
                     "is computed")  # fmt: skip
        written += write_results(pairs, out_dir, name="pairs")
        if cfg.data.layout == "arena":
            summary["arena"] = ratings_of(
                pairs, seed=cfg.seed, anchor=OmegaConf.select(cfg, "arena.anchor", default="mean_rating")
            )
            written.append(atomic_write(out_dir / "ratings.json", json.dumps(summary["arena"], indent=2) + "\n"))
    written += write_summary(summary, out_dir)
    if record is not None:
        written.append(atomic_write(out_dir / layouts.RECORD, record))
    if cfg.report:
        try:
            written += report.build(out_dir)
        except Exception as e:  # a chart or template failing must never lose the results
            log.warning("no report (%s: %s); the results are written. Retry: python -m evaluator.report %s",
                        type(e).__name__, escape(e, table=False), out_dir)  # fmt: skip
    write_index(out_dir, written)
    log.info("summary of %d samples:\n%s", len(rows), summary_markdown(summary))
    _warn_unreadable(cfg, scheme, rows)
    log.info("results in %s", out_dir)


def _warn_unreadable(cfg: DictConfig, scheme: Scheme, rows: list[dict]) -> None:
    """Say at the end, and why, when most of the judge's replies held no readable score: such a run's means rest
    on a few rows, or on none."""
    replied = [r for r in rows if not str(r.get("error") or "").startswith(("skipped", "missing edit"))]
    unreadable = sum(1 for r in replied if r.get("score") is None and "unparseable" in str(r.get("error") or ""))
    if not replied or unreadable * 2 <= len(replied):
        return
    if cfg.backend != "api" and str(cfg.model.name_or_path).startswith("tiny:"):
        why = ("the tiny judge has random weights and writes noise; judge.mode=logits reads its scores from the "
               "probabilities instead")  # fmt: skip
    elif scheme.mode == "generate":
        why = ("the replies are in results.jsonl (response); a judge.system or judge.user asking for the scheme's "
               "form, a larger model.max_new_tokens, or judge.mode=logits may help")  # fmt: skip
    else:
        why = "the replies are in results.jsonl (response)"
    log.warning("%d of %d replies held no readable score: %s", unreadable, len(replied), why)
