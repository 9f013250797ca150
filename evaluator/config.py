"""Where configs and shipped assets live, and the config resolvers they use."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

PACKAGE_DIR = Path(__file__).resolve().parent
CONF_DIR = PACKAGE_DIR.parent / "conf"
ASSETS_DIR = PACKAGE_DIR / "assets"


def register_resolvers() -> None:
    """``${evaluator_asset:demo/manifest.jsonl}``: a file shipped inside the package, as an absolute path."""
    OmegaConf.register_new_resolver("evaluator_asset", lambda rel: str(ASSETS_DIR / rel), replace=True)


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """The run config as ``python -m evaluator OVERRIDES`` would compose it, for use from Python."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_resolvers()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="evaluator"):
        return hydra_compose("eval", overrides=list(overrides))
