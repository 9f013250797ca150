"""Where configs and shipped assets live, and the config resolvers they use."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

PACKAGE_DIR = Path(__file__).resolve().parent
CONF_DIR = PACKAGE_DIR.parent / "conf"
ASSETS_DIR = PACKAGE_DIR / "assets"


def register_resolvers() -> None:
    """``${evaluator_asset:demo/manifest.jsonl}``: a file shipped inside the package, as an absolute path."""
    OmegaConf.register_new_resolver("evaluator_asset", lambda rel: str(ASSETS_DIR / rel), replace=True)
