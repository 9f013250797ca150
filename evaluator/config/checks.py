"""The judge's config checks that its schema cannot express, each mistake one line, every one before any model
loads: data, devices, the server settings, the checkpoint, the output folder. The editing stage's are in
``evaluator.edit.checks``. No torch, Lightning or transformers here."""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from evaluator.config import benchmark_data
from evaluator.config.compose import did_you_mean
from evaluator.config.hub import check_fetchable
from evaluator.inputs.manifest import check_columns
from evaluator.inputs.pairs import check_pair_columns
from evaluator.runtime.errors import ConfigError
from evaluator.runtime.topology import cpu_count

PARSERS = ("default", "viescore", "imgedit", "editscore", "risebench", "geditv2", "krisbench")


def check_judge(cfg: DictConfig, checkpoint: bool = True, edits_exist: bool = True) -> None:
    """The checks on a composed config that its schema cannot express; every one before any model loads
    (``checkpoint=False``: not looking into ``model.name_or_path``, for a judge already in memory;
    ``edits_exist=False``: the edits are yet to be made, by ``evaluator.pipeline``, so the data is checked as the
    editing stage reads it: a manifest needs no ``edited`` column).

    Raises:
        ConfigError: with one line saying what to change.
    """
    check_missing(cfg, ("model", "data", "judge"))
    batch = cfg.data.batch_size
    if batch != "auto" and not (isinstance(batch, int) and not isinstance(batch, bool) and batch > 0):
        raise ConfigError(f"data.batch_size is a positive integer or auto, not {batch!r}")
    check_data(cfg.data, edited=edits_exist)
    one_of("judge.mode", cfg.judge.mode, ("generate", "logits"))
    one_of("trainer.accelerator", cfg.trainer.accelerator, ("auto", "gpu", "cuda", "cpu"))
    one_of("judge.parser", cfg.judge.parser, PARSERS)
    one_of("backend", cfg.backend, ("local", "api", "vllm"))
    if cfg.backend == "api":
        _check_api(cfg)
    if cfg.backend == "vllm":
        _check_vllm(cfg.vllm)
    from evaluator.scoring.schemes import Scheme

    _check_scheme_fits_data(Scheme.from_config(cfg.judge), cfg)  # every part, placeholder and criterion
    if cfg.backend == "api":
        if cfg.model.get("adapter"):
            raise ConfigError(
                f"model.adapter={cfg.model.adapter} is merged into local weights (backend=local or vllm); a server "
                "judges with the model it serves: serve the merged judge and name it in api.model"
            )
        return  # one process, no local weights: the devices and the checkpoint play no part
    if cfg.model.thinking and cfg.judge.mode == "logits":
        raise ConfigError(
            f"model={_preset(cfg, 'model')} thinks (a <think> trace) before its verdict; logit mode reads the score "
            "where the reply begins, before any thinking: use judge.mode=generate"
        )
    if cfg.trainer.gpus_per_replica < 1 or not 0 < cfg.trainer.max_memory_fraction <= 1:
        raise ConfigError("trainer.gpus_per_replica is at least 1 and trainer.max_memory_fraction in (0, 1]")
    if cfg.trainer.gpus_per_replica > 1 and (cfg.trainer.accelerator == "cpu" or not has_gpu()):
        raise ConfigError(
            f"trainer.gpus_per_replica={cfg.trainer.gpus_per_replica} spreads a judge over GPUs; none here"
        )
    check_devices(cfg.trainer)
    if checkpoint:
        _check_checkpoint(cfg.model)
        from evaluator.judge.adapters import check_adapter

        check_adapter(cfg.model)


def check_missing(cfg: DictConfig, groups: Sequence[str]) -> None:
    """Raises: ConfigError naming every required key of ``groups`` that the config leaves unset."""
    for group in groups:
        missing = [k for k in cfg[group] if OmegaConf.is_missing(cfg[group], k)]
        if missing:
            keys = " ".join(f"{group}.{k}=..." for k in missing)
            raise ConfigError(f"{group}={_preset(cfg, group)} needs {keys}")


def _check_scheme_fits_data(scheme, cfg: DictConfig) -> None:
    """Raises: ConfigError where the judge and the data do not fit (one edit or two per prompt; per-item prompts)."""
    layout = cfg.data.layout
    if layout == "geditv2" and not scheme.pairwise:
        raise ConfigError(f"data=geditv2 compares two editors' edits in one prompt; judge={cfg.judge.name} "
                          "judges one: judge=geditv2_official, geditv2 or pairwise")  # fmt: skip
    if scheme.pairwise and layout not in ("pairs", "arena", "geditv2"):
        raise ConfigError(f"judge={cfg.judge.name} compares two edits in one prompt; it reads data=pairs (data.path="
                          "PAIRS with id, source, instruction, edited_a, edited_b), data=geditv2 or python -m "
                          f"evaluator.arena, not data={layout}")  # fmt: skip
    if scheme.per_item and layout != scheme.overall_combine:  # its arithmetic is named after its benchmark's layout
        raise ConfigError(f"judge={cfg.judge.name} asks each item what its benchmark's scripts ask it; it reads "
                          f"data={scheme.overall_combine}, not data={layout}")  # fmt: skip


def check_data(data: DictConfig, edited: bool = True) -> None:
    """Raises: ConfigError on a bad ``data`` value, or a manifest of other columns (``edited``: the judge's)."""
    one_of("data.on_error", data.on_error, ("skip", "fail"))
    if data.layout == "manifest" and data.get("path"):
        check_columns(data.path, edited)
    if data.layout == "arena":
        _check_arena(data, edited)
    if data.layout == "pairs" and data.get("path"):
        if not edited:
            raise ConfigError(
                "data=pairs holds edits to compare; the editing stage reads data=manifest, gedit or imgedit"
            )
        check_pair_columns(data.path)
    benchmark_data.check_layout(data, edited)
    if data.limit is not None and data.limit < 1:
        raise ConfigError(f"data.limit is a positive number of samples or null, not {data.limit}")
    workers = data.num_workers
    if workers != "auto" and not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 0):
        raise ConfigError(f"data.num_workers is auto or a number of workers per rank (0: none), not {workers!r}")
    for key in ("max_image_pixels", "min_image_side"):
        if data[key] < 0:
            raise ConfigError(f"data.{key} cannot be negative ({data[key]})")


def _check_arena(data: DictConfig, edited: bool) -> None:
    if not edited:
        raise ConfigError("an arena compares editors' edits; the editing stage reads a manifest, gedit or imgedit")
    if len(data.editors) < 2:
        raise ConfigError(
            f"an arena ranks two or more editors: arena.editors.NAME=MANIFEST for each (given: {len(data.editors)})"
        )
    check_editor_names(list(data.editors))
    if data.max_pairs is not None and data.max_pairs < 1:
        raise ConfigError(f"arena.max_pairs is a positive number of pairs or null, not {data.max_pairs}")
    one_of("arena.layout", data.editor_layout, ("manifest", "gedit", "imgedit"))
    if data.editor_layout == "manifest":
        for name, path in data.editors.items():
            check_columns(path, what=f"editor {name}'s manifest")
        return
    needed = ("metadata",) if data.editor_layout == "gedit" else ("metadata", "sources")
    missing = [f"arena.{k}=..." for k in needed if not data[k]]
    if missing:
        raise ConfigError(f"arena.layout={data.editor_layout} needs {' '.join(missing)}")


_EDITOR_NAME = re.compile(r"[A-Za-z0-9._+-]+")


def check_editor_names(names: Sequence[str]) -> None:
    """An arena's pair of editors X and Y on id I is named ``I:X-vs-Y``; these names must never coincide. An
    editor's name holds no ``:`` (so the id is what precedes the last one), and no two pairs of editors may read
    alike (``a`` against ``b-vs-c`` is ``a-vs-b-vs-c``, as is ``a-vs-b`` against ``c``).

    Raises:
        ConfigError: naming the editors whose names could make two pairs one.
    """
    for name in names:
        if not _EDITOR_NAME.fullmatch(str(name)):
            raise ConfigError(f"arena.editors.{name}: an editor's name takes letters, digits, '.', '_', '+' and '-'")
    seen: dict[str, tuple[str, str]] = {}
    for x, y in itertools.combinations(sorted(names), 2):
        label = f"{x}-vs-{y}"
        if label in seen:
            a, b = seen[label]
            raise ConfigError(
                f"arena.editors: the pairs {a} against {b} and {x} against {y} would both be named {label}; "
                "rename an editor (a name without '-vs-')"
            )
        seen[label] = (x, y)


def check_arena(cfg: DictConfig, checkpoint: bool = True) -> None:
    """``check_judge`` for ``python -m evaluator.arena``, which compares edits two at a time in one prompt.

    Raises:
        ConfigError: with one line saying what to change.
    """
    check_judge(cfg, checkpoint)
    one_of("arena.anchor", cfg.arena.anchor, ("mean_rating", "mean_strength"))
    from evaluator.scoring.schemes import Scheme

    if not Scheme.from_config(cfg.judge).pairwise:
        raise ConfigError(f"an arena needs a pairwise judge (judge=pairwise), not judge={cfg.judge.name}")


def _check_api(cfg: DictConfig) -> None:
    missing = [f"api.{k}=..." for k in ("base_url", "model") if not cfg.api[k]]
    if missing:
        raise ConfigError(f"backend=api needs {' '.join(missing)} (an OpenAI-compatible server and its model name)")
    api_servers(cfg.api)
    least = {"concurrency": 1, "max_retries": 0, "timeout_s": 1e-3, "max_retry_wait_s": 0,
             "max_response_bytes": 1024, "max_instruction_chars": 1}  # fmt: skip
    one_of("api.image_format", cfg.api.image_format, ("png", "webp", "jpeg"))
    if cfg.judge.mode == "logits" and cfg.judge.labels and not cfg.api.prefill:
        raise ConfigError(
            f"judge={cfg.judge.name} judge.mode=logits reads verdict words after a pre-filled reply; with "
            "backend=api use api.prefill=true (a server that continues replies: vLLM, SGLang) or judge.mode=generate"
        )
    for key in (k for k, low in least.items() if not cfg.api[k] >= low):
        raise ConfigError(f"api.{key} is at least {least[key]:g}, not {cfg.api[key]}")


def _check_vllm(vllm_cfg: DictConfig) -> None:
    if vllm_cfg.max_num_seqs < 1 or not 0 < vllm_cfg.gpu_memory_utilization <= 1 or not vllm_cfg.start_timeout_s > 0:
        raise ConfigError("vllm.max_num_seqs is at least 1, vllm.gpu_memory_utilization in (0, 1], and "
                          "vllm.start_timeout_s above 0")  # fmt: skip
    if vllm_cfg.max_model_len is not None and vllm_cfg.max_model_len < 256:
        raise ConfigError(f"vllm.max_model_len is at least 256 (null: sized for the run), not {vllm_cfg.max_model_len}")


def api_servers(api_cfg) -> list[str]:
    """``api.base_url`` as a list of server URLs, one or more, each once.

    Raises:
        ConfigError: a URL that is not http(s)://..., or one listed twice.
    """
    urls = api_cfg.base_url
    urls = [urls] if isinstance(urls, str) else list(urls or [])
    for url in urls:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"api.base_url takes http(s):// URLs (a list for several servers), not {url!r}")
    if twice := sorted({u for u in urls if urls.count(u) > 1}):
        raise ConfigError(f"api.base_url lists {twice[0]} twice")
    return urls


def _preset(cfg: DictConfig, group: str) -> str:
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get().runtime.choices[group]
    except (ImportError, ValueError, KeyError):
        node = cfg[group]
        return str(node.get("layout") or node.get("name") or node.get("name_or_path") or "...")


def one_of(key: str, value, allowed: Sequence[str]) -> None:
    """Raises: ConfigError unless ``value`` is in ``allowed``, with the closest match."""
    if value not in allowed:
        raise ConfigError(f"{key} is one of {', '.join(allowed)}, not {value!r}{did_you_mean(str(value), allowed)}")


def check_devices(trainer) -> None:
    """Raises: ConfigError on devices this machine does not have."""
    launched = "TORCHELASTIC_RUN_ID" in os.environ or "SLURM_PROCID" in os.environ or "LOCAL_RANK" in os.environ
    if trainer.accelerator in ("gpu", "cuda") and not has_gpu():
        raise ConfigError("trainer=gpu, but this machine shows no GPU; use trainer=cpu (or trainer=auto)")
    cpu = trainer.accelerator == "cpu" or (trainer.accelerator == "auto" and not has_gpu())
    if cpu and not launched and isinstance(trainer.devices, int) and trainer.devices > (cores := cpu_count()):
        raise ConfigError(
            f"trainer.devices={trainer.devices} CPU processes exceed the {cores} cores this process may use; "
            f"use trainer.devices={cores} or fewer"
        )


def has_gpu() -> bool:
    """Whether an NVIDIA GPU is visible, without importing torch (which takes seconds)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return any(Path("/dev").glob("nvidia[0-9]*"))


def _check_checkpoint(model) -> None:
    """A local checkpoint folder must be one, of a model type the judge supports."""
    from evaluator.judge import qwen_vl

    if model.name_or_path.startswith("tiny:"):
        name = model.name_or_path.removeprefix("tiny:")
        if name not in qwen_vl.TINY_SPECS:
            known = ", ".join(f"tiny:{n}" for n in qwen_vl.TINY_SPECS)
            raise ConfigError(f"unknown tiny judge {model.name_or_path!r}; model.name_or_path takes {known}")
        return
    path = Path(model.name_or_path).expanduser()
    if not path.exists():
        return check_fetchable(model.name_or_path, "model.name_or_path", local_only=model.local_files_only)
    config = path / "config.json"
    if not config.is_file():
        raise ConfigError(f"model.name_or_path={path} is not a checkpoint folder (it has no config.json)")
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read {config}: {e}") from None
    if model_type not in qwen_vl.MODEL_TYPES:
        supported = ", ".join(qwen_vl.MODEL_TYPES)
        raise ConfigError(f"model.name_or_path={path} is a {model_type!r} checkpoint; the judge supports {supported}")


def check_out_dir(out_dir: Path, key: str = "out_dir") -> None:
    """Raises: ConfigError naming ``out_dir`` (the setting ``key``) and why, unless it can be created and written."""
    probe = out_dir / f".write-test-{os.getpid()}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(
            f"{key}={out_dir} cannot be written ({e.strerror or e}); choose another with {key}=..."
        ) from None
