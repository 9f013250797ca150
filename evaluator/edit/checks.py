"""The editing stage's config checks (``python -m evaluator.edit``) and the pipeline's (``python -m
evaluator.pipeline``): every one before any weights load, each mistake one line. The judge's are in
``evaluator.config.checks``.
"""

from __future__ import annotations

from omegaconf import DictConfig

from evaluator.config.checks import check_data, check_devices, check_judge, check_missing, one_of
from evaluator.runtime.errors import ConfigError


def check_edit(cfg: DictConfig, checkpoint: bool = True) -> None:
    """``check`` for the editing stage (``python -m evaluator.edit``): the data, the devices and the editor.

    Raises:
        ConfigError: with one line saying what to change; also when diffusers is not installed.
    """
    from evaluator.edit import diffusion

    check_missing(cfg, ("editor", "data"))
    check_data(cfg.data, edited=False)
    if cfg.data.layout == "geditv2" and len(cfg.data.editors) != 1:
        raise ConfigError(f"data=geditv2 edits as one editor: data.editors=[NAME] names its gallery folder, not "
                          f"{list(cfg.data.editors)}")  # fmt: skip
    one_of("trainer.accelerator", cfg.trainer.accelerator, ("auto", "gpu", "cuda", "cpu"))
    one_of("editor.dtype", cfg.editor.dtype, ("bfloat16", "float16", "float32", "float64"))
    e = cfg.editor
    for key in ("num_inference_steps", "batch_size", "multiple_of", "max_instruction_chars"):
        if not (isinstance(e[key], int) and e[key] >= 1):
            raise ConfigError(f"editor.{key} is a positive integer, not {e[key]!r}")
    if e.resolution is not None and e.resolution < e.multiple_of:
        raise ConfigError(
            f"editor.resolution is null (the source's size) or at least {e.multiple_of} (editor.multiple_of)"
        )
    if cfg.trainer.gpus_per_replica != 1:
        raise ConfigError(
            "trainer.gpus_per_replica is for a judge spread over GPUs; an editor runs one full pipeline per process"
        )
    check_devices(cfg.trainer)
    diffusion.require()
    if checkpoint:
        diffusion.check_checkpoint(cfg.editor)


def check_pipeline(cfg: DictConfig) -> None:
    """``check`` and ``check_edit`` for ``python -m evaluator.pipeline``, and what the two stages in one job need.

    Raises:
        ConfigError: with one line saying what to change.
    """
    if cfg.backend != "local":
        raise ConfigError(
            f"evaluator.pipeline judges with local weights; for backend={cfg.backend} run the two stages apart"
        )
    if cfg.trainer.gpus_per_replica != 1:
        raise ConfigError(
            "evaluator.pipeline runs the editor and the judge in the same processes, one per GPU; for "
            "trainer.gpus_per_replica>1 run python -m evaluator.edit, then python -m evaluator"
        )
    if cfg.data.layout == "geditv2":
        raise ConfigError(
            "data=geditv2 compares several editors; evaluator.pipeline edits and judges one: run python -m "
            "evaluator.edit data=geditv2 data.editors=[NAME], then python -m evaluator data=geditv2 data.editors=[...]"
        )
    check_judge(cfg, edits_exist=False)  # the judge reads the manifest the editing stage writes
    check_edit(cfg)
