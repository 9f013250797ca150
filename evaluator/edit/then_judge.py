"""``python -m evaluator.pipeline``: the editing stage, then the judge on its edits, in one job on the same
processes. Each rank frees its editor before it loads the judge.

The judge's config is the pipeline's with the edits as its data (for a manifest, the new ``manifest.jsonl``; for a
benchmark, its layout, where the edits were written), and its default ``out_dir`` is the one ``python -m
evaluator`` gives those edits, so the one-command and the two-stage forms share results and resume each other.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from evaluator.config.checks import check_out_dir
from evaluator.edit import checks, layouts
from evaluator.edit import stage as editing
from evaluator.judge import stage as judging
from evaluator.runtime import job, logs
from evaluator.runtime.topology import env_rank

log = logging.getLogger(__name__)

_EDIT_KEYS = ("editor", "data", "trainer", "seed", "log_level", "resume", "callbacks")


def run(cfg: DictConfig) -> tuple[Path, Path]:
    """Edit ``cfg.data`` with ``cfg.editor`` into ``cfg.edit_dir``, then judge the edits into ``cfg.out_dir``.

    Returns:
        The editing stage's folder and the judge's.
    """
    checks.check_pipeline(cfg)
    edits = Path(cfg.edit_dir).expanduser().resolve()
    out_dir = Path(cfg.out_dir).expanduser().resolve()
    edit_cfg, judge_cfg = split(cfg, edits, out_dir)
    layouts.refuse_own_input(cfg.data, edits, "edit_dir")
    job.prepare(cfg, edits, log_name="edit", key="edit_dir")
    check_out_dir(out_dir)
    job.launch(cfg, functools.partial(_both, edit_cfg, judge_cfg, edits, out_dir))
    return edits, out_dir


def _both(edit_cfg: DictConfig, judge_cfg: DictConfig, edits: Path, out_dir: Path, trainer):
    editing.edit(edit_cfg, trainer, edits)  # the editor's memory is freed when its predict ends
    logs.add_file(out_dir / "logs" / f"rank-{env_rank()}.log")
    log.info("judging the edits in %s", edits)
    return judging.score(judge_cfg, trainer, out_dir)


def split(cfg: DictConfig, edits: Path, out_dir: Path) -> tuple[DictConfig, DictConfig]:
    """The editing stage's config and the judge's, out of the pipeline's."""
    edit_cfg = OmegaConf.create({k: cfg[k] for k in _EDIT_KEYS})
    edit_cfg.out_dir = str(edits)
    judge_cfg = cfg.copy()
    with open_dict(judge_cfg):
        judge_cfg.out_dir = str(out_dir)
        del judge_cfg["editor"]
        del judge_cfg["edit_dir"]
        if cfg.data.layout == "manifest":  # the judge reads the new manifest, already cut to data.limit
            judge_cfg.data.path = str(edits / layouts.MANIFEST)
            judge_cfg.data.root = None
            judge_cfg.data.allow_outside_root = False
            judge_cfg.data.limit = None
    return edit_cfg, judge_cfg
