"""Composing the run config with Hydra, from the command line or from Python, and turning Hydra's composition
errors (a misspelled key, an unknown option) into one line. No torch, Lightning or transformers here: ``--help``
and a mistyped key answer in well under 2 s.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf, open_dict

from evaluator.config import benchmark_data, schema
from evaluator.config.overrides import as_meant
from evaluator.results.run_folder import settings_tag
from evaluator.runtime.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # evaluator/
ASSETS_DIR = PACKAGE_DIR / "assets"
CONF_MODULE = "evaluator.conf"
CONFIG_NAME = "eval"
# Hydra's own flags; the value of those that take one is skipped too.
_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                     "--config-dir", "-cd", "--experimental-rerun", "--info", "-i"}  # fmt: skip
_NO_CHECK_FLAGS = {"--help", "-h", "--hydra-help", "--version", "--shell-completion", "-sc", "--info", "-i"}
_HYDRA_FLAGS = _FLAGS_WITH_VALUE | _NO_CHECK_FLAGS | {"--resolve", "--run", "-r", "--multirun", "-m"}


def register_schemas() -> None:
    """Put the schemas into Hydra's ConfigStore, where the presets' defaults lists find them (idempotent)."""
    cs = ConfigStore.instance()
    tops = {"eval_schema": schema.EvalConfig, "edit_schema": schema.EditConfig,
            "pipeline_schema": schema.PipelineConfig, "arena_schema": schema.ArenaConfig}  # fmt: skip
    for name, node in tops.items():
        cs.store(name=name, node=node)
    data = {"manifest_schema": schema.ManifestData, "pairs_schema": schema.PairsData, "arena_schema": schema.ArenaData}
    groups = {
        "editor": {"editor_schema": schema.EditorConfig},
        "model": {"model_schema": schema.ModelConfig},
        "data": {**data, **benchmark_data.SCHEMAS},
        "judge": {"judge_schema": schema.JudgeConfig},
        "trainer": {"trainer_schema": schema.TrainerConfig},
    }
    for group, nodes in groups.items():
        for name, node in nodes.items():
            cs.store(group=group, name=name, node=node)


def register_config() -> None:
    """Register the config schema and the resolvers the presets use (idempotent)."""
    register_schemas()
    from evaluator.results.run_folder import data_name, edit_dir, edited_data_name, judge_name, settings_tag

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

    register_config()
    overrides = as_meant(overrides)
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
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a.startswith("-"):
            _refuse_dashed(a, argv[i + 1] if i + 1 < len(argv) else None)
            skip = a in _FLAGS_WITH_VALUE
        elif not a.lstrip("+~").startswith("hydra.") or a.startswith("hydra.searchpath="):
            overrides.append(a)  # Hydra's own settings are Hydra's business, but the search path finds presets
    compose(overrides, config_name)


def _refuse_dashed(arg: str, following: str | None) -> None:
    """``--data.path x`` (argparse's habit) is no Hydra override; say the form that works instead of Hydra's
    "Error parsing override 'x'".

    Raises:
        ConfigError: for a dashed argument that is none of Hydra's own flags.
    """
    name, eq, value = arg.partition("=")
    if name in _HYDRA_FLAGS:
        return
    key = name.lstrip("-")
    if not eq and following is not None and not following.startswith("-") and "=" not in following:
        value = following
    meant = f"{key}={value}" if (eq or value) else f"{key}=..."
    raise ConfigError(f"{arg} is not an option here: settings are written key=value, without dashes ({meant})")


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
            f"{group}={name} is not an option; {group}= is one of {', '.join(options)}{did_you_mean(name, options)}"
        )
    key = getattr(cause, "full_key", None)
    if key and type(cause).__name__ in ("ConfigAttributeError", "ConfigKeyError"):
        parent, _, leaf = key.rpartition(".")
        valid = _valid_keys([o for o in overrides if o.lstrip("+~").split("=", 1)[0] != key], parent, config_name)
        where = f"{parent}" if parent else "the top level"
        return ConfigError(f"unknown key {key}; {where} has {', '.join(valid)}{did_you_mean(leaf, valid, parent)}")
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


def did_you_mean(name: str, options: Sequence[str], parent: str = "") -> str:
    """ "; did you mean X?" for the option closest to ``name``, or nothing."""
    match = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean {parent + '.' if parent else ''}{match[0]}?" if match else ""
