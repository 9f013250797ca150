"""Composing the run config, and catching a user's config mistakes in one line, before anything heavy loads (no
torch, Lightning or transformers here: ``--help`` and a mistyped key answer in well under 2 s).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from evaluator import schema
from evaluator.errors import ConfigError
from evaluator.hub import check_fetchable
from evaluator.manifest import check_columns
from evaluator.outdir import settings_tag
from evaluator.overrides import quote_text_values

PACKAGE_DIR = Path(__file__).resolve().parent
ASSETS_DIR = PACKAGE_DIR / "assets"
CONF_MODULE = "evaluator.conf"
CONFIG_NAME = "eval"
# Hydra's own flags; the value of those that take one is skipped too.
_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                     "--config-dir", "-cd", "--experimental-rerun", "--info", "-i"}  # fmt: skip
_NO_CHECK_FLAGS = {"--help", "-h", "--hydra-help", "--version", "--shell-completion", "-sc", "--info", "-i"}


def setup() -> None:
    """Register the config schema and the resolvers the presets use (idempotent)."""
    schema.register()
    from evaluator.outdir import data_name, edit_dir, edited_data_name, judge_name, settings_tag

    # ${evaluator_asset:demo/manifest.jsonl}: a file shipped inside the package, as an absolute path.
    OmegaConf.register_new_resolver("evaluator_asset", lambda rel: str(ASSETS_DIR / rel), replace=True)
    # ${evaluator_data_name:${data}}: the default out_dir's name for the data (see outdir.data_name).
    OmegaConf.register_new_resolver("evaluator_data_name", lambda data: data_name(data, ASSETS_DIR), replace=True)
    # ${evaluator_judge_name:${backend},${api.model},<model preset>}: the judge's part of the default out_dir.
    OmegaConf.register_new_resolver("evaluator_judge_name", judge_name, replace=True)
    # ${evaluator_settings_tag:${judge.mode}}: "-logits", and a hash of the score-changing overrides, if any.
    OmegaConf.register_new_resolver("evaluator_settings_tag", lambda mode: settings_tag(mode, None), replace=True)
    # The editing stage's folder, and the name of the data the judge reads after it (see outdir.edit_dir).
    OmegaConf.register_new_resolver(
        "evaluator_edit_dir", lambda data, editor: edit_dir(data, editor, ASSETS_DIR), replace=True
    )
    OmegaConf.register_new_resolver(
        "evaluator_edited_data_name", lambda data, edits: edited_data_name(data, edits, ASSETS_DIR), replace=True
    )


def conf_dir() -> Path:
    """The folder holding the shipped YAML presets (``conf/`` in a checkout, ``evaluator/conf`` in a wheel)."""
    from importlib.resources import files

    return Path(str(files(CONF_MODULE)))


def compose(overrides: Sequence[str] = (), config_name: str = CONFIG_NAME) -> DictConfig:
    """The run config as ``python -m evaluator OVERRIDES`` would compose it (``config_name="edit"``: as
    ``python -m evaluator.edit``, ``"pipeline"``: as ``python -m evaluator.pipeline``), for use from Python.

    Raises:
        ConfigError: with one line saying what to change.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    setup()
    overrides = quote_text_values(overrides)
    try:
        with initialize_config_module(CONF_MODULE, version_base="1.3", job_name="evaluator"):
            cfg = hydra_compose(config_name, overrides=list(overrides), return_hydra_config=True)
    except Exception as e:  # Hydra and OmegaConf raise many types; each becomes one line
        raise _explain(e, overrides, config_name) from None
    choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if v is not None}
    with open_dict(cfg):
        del cfg["hydra"]
    # ${hydra:...} resolves only inside a Hydra app; from Python the folders are named after the choices alike.
    raw = OmegaConf.to_container(cfg, resolve=False)
    for key in ("out_dir", "edit_dir"):
        if key in cfg and not any(o.startswith(f"{key}=") for o in overrides):
            value = raw[key]
            for group, choice in choices.items():
                value = value.replace(f"${{hydra:runtime.choices.{group}}}", choice)
            tag = settings_tag(cfg.judge.mode, overrides) if "judge" in cfg else ""
            value = value.replace("${evaluator_settings_tag:${judge.mode}}", tag)
            cfg[key] = value
    return cfg


def check_overrides(argv: Sequence[str], config_name: str = CONFIG_NAME) -> None:
    """Compose the command line's overrides once, to turn Hydra's multi-line composition errors into one line.

    Raises:
        ConfigError: on a misspelled key, an unknown option, a wrong type or an unparsable override.
    """
    if any(a in _NO_CHECK_FLAGS or a.split("=")[0] in _NO_CHECK_FLAGS for a in argv):
        return
    overrides, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = a in _FLAGS_WITH_VALUE
        elif not a.lstrip("+~").startswith("hydra.") or a.startswith("hydra.searchpath="):
            overrides.append(a)  # Hydra's own settings are Hydra's business, but the search path finds presets
    compose(overrides, config_name)


def _explain(e: Exception, overrides: Sequence[str], config_name: str = CONFIG_NAME) -> ConfigError:
    """One line for a composition error, with the valid choices and the closest match where there are some."""
    cause = e.__cause__ or e
    text = str(e)
    if found := re.search(r"You must specify '(\w+)'", text):
        group = found.group(1)
        options = [o for o in re.findall(r"^\t(\S+)$", text, flags=re.M) if not o.endswith("_schema")]
        return ConfigError(f"{group}= is required; one of {', '.join(options)}")
    if found := re.search(r"Could not find '(\w+)/([^']*)'", text):
        group, name = found.groups()
        options = [o for o in re.findall(r"^\t(\S+)$", text, flags=re.M) if not o.endswith("_schema")]
        return ConfigError(
            f"{group}={name} is not an option; {group}= is one of {', '.join(options)}{_close(name, options)}"
        )
    key = getattr(cause, "full_key", None)
    if key and type(cause).__name__ in ("ConfigAttributeError", "ConfigKeyError"):
        parent, _, leaf = key.rpartition(".")
        valid = _valid_keys([o for o in overrides if o.lstrip("+~").split("=", 1)[0] != key], parent, config_name)
        where = f"{parent}" if parent else "the top level"
        return ConfigError(f"unknown key {key}; {where} has {', '.join(valid)}{_close(leaf, valid, parent)}")
    if key:
        return ConfigError(f"{key}: {str(cause).splitlines()[0]}")
    return ConfigError(f"cannot read the overrides {' '.join(overrides)}: {text.strip().splitlines()[0]}")


def _valid_keys(overrides: Sequence[str], parent: str, config_name: str = CONFIG_NAME) -> list[str]:
    try:
        node = compose(overrides, config_name)
        node = OmegaConf.select(node, parent) if parent else node
        return sorted(str(k) for k in node) if isinstance(node, DictConfig) else []
    except ConfigError:
        return []


def _close(name: str, options: Sequence[str], parent: str = "") -> str:
    match = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean {parent + '.' if parent else ''}{match[0]}?" if match else ""


def check(cfg: DictConfig, checkpoint: bool = True) -> None:
    """The checks on a composed config that its schema cannot express; every one before any model loads
    (``checkpoint=False``: not looking into ``model.name_or_path``, for a judge already in memory).

    Raises:
        ConfigError: with one line saying what to change.
    """
    check_missing(cfg, ("model", "data", "judge"))
    batch = cfg.data.batch_size
    if batch != "auto" and not (isinstance(batch, int) and not isinstance(batch, bool) and batch > 0):
        raise ConfigError(f"data.batch_size is a positive integer or auto, not {batch!r}")
    check_data(cfg.data)
    one_of("judge.mode", cfg.judge.mode, ("generate", "logits"))
    one_of("trainer.accelerator", cfg.trainer.accelerator, ("auto", "gpu", "cuda", "cpu"))
    one_of("judge.parser", cfg.judge.parser, ("default", "viescore", "imgedit"))
    one_of("backend", cfg.backend, ("local", "api"))
    if cfg.backend == "api":
        _check_api(cfg)
    from evaluator.schemes import Scheme

    Scheme.from_config(cfg.judge)  # every part, placeholder and criterion of the scheme
    if cfg.backend == "api":
        return  # one process, no local weights: the devices and the checkpoint play no part
    if cfg.trainer.gpus_per_replica < 1 or not 0 < cfg.trainer.max_memory_fraction <= 1:
        raise ConfigError("trainer.gpus_per_replica is at least 1 and trainer.max_memory_fraction in (0, 1]")
    if cfg.trainer.gpus_per_replica > 1 and (cfg.trainer.accelerator == "cpu" or not has_gpu()):
        raise ConfigError(
            f"trainer.gpus_per_replica={cfg.trainer.gpus_per_replica} spreads a judge over GPUs; none here"
        )
    check_devices(cfg.trainer)
    if checkpoint:
        _check_checkpoint(cfg.model)


def check_missing(cfg: DictConfig, groups: Sequence[str]) -> None:
    """Raises: ConfigError naming every required key of ``groups`` that the config leaves unset."""
    for group in groups:
        missing = [k for k in cfg[group] if OmegaConf.is_missing(cfg[group], k)]
        if missing:
            keys = " ".join(f"{group}.{k}=..." for k in missing)
            raise ConfigError(f"{group}={_preset(cfg, group)} needs {keys}")


def check_data(data: DictConfig, edited: bool = True) -> None:
    """Raises: ConfigError on a bad ``data`` value, or a manifest of other columns (``edited``: the judge's)."""
    one_of("data.on_error", data.on_error, ("skip", "fail"))
    if data.layout == "manifest" and data.get("path"):
        check_columns(data.path, edited)
    if data.limit is not None and data.limit < 1:
        raise ConfigError(f"data.limit is a positive number of samples or null, not {data.limit}")
    for key in ("num_workers", "max_image_pixels", "min_image_side"):
        if data[key] < 0:
            raise ConfigError(f"data.{key} cannot be negative ({data[key]})")


def _check_api(cfg: DictConfig) -> None:
    missing = [f"api.{k}=..." for k in ("base_url", "model") if not cfg.api[k]]
    if missing:
        raise ConfigError(f"backend=api needs {' '.join(missing)} (an OpenAI-compatible server and its model name)")
    least = {"concurrency": 1, "max_retries": 0, "timeout_s": 1e-3, "max_retry_wait_s": 0,
             "max_response_bytes": 1024, "max_instruction_chars": 1}  # fmt: skip
    for key in (k for k, low in least.items() if not cfg.api[k] >= low):
        raise ConfigError(f"api.{key} is at least {least[key]:g}, not {cfg.api[key]}")


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
        raise ConfigError(f"{key} is one of {', '.join(allowed)}, not {value!r}{_close(str(value), allowed)}")


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


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's total)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _check_checkpoint(model) -> None:
    """A local checkpoint folder must be one, of a model type the judge supports."""
    from evaluator import qwen_vl

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


def check_out_dir(out_dir: Path) -> None:
    """Raises: ConfigError naming ``out_dir`` and why, unless it can be created and written."""
    probe = out_dir / f".write-test-{os.getpid()}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(
            f"out_dir={out_dir} cannot be written ({e.strerror or e}); choose another with out_dir=..."
        ) from None
