"""What every command-line entry point does: check the command line, let Hydra compose the config, check it
before torch, Lightning, transformers or diffusers is imported (a mistake answers at once), then call one ``run``.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from omegaconf import DictConfig

from evaluator.config import checks, compose
from evaluator.config.overrides import as_meant
from evaluator.runtime import logs
from evaluator.runtime.errors import report_and_exit
from evaluator.runtime.topology import env_rank

log = logging.getLogger(__name__)

_HELP = ("--help", "-h", "--hydra-help")


def entry(
    config_name: str, check: Callable[[DictConfig], None], run: str, required: tuple[str, ...] = ()
) -> Callable[[], None]:
    """The ``main`` of an entry point: ``config_name`` in ``evaluator.conf``, its ``check``, its ``run`` as
    ``"module:function"`` (imported only once the config is good), and the config groups it ``required`` to be
    chosen, each with a preset that lets ``--help`` compose the config without one."""
    compose.register_config()

    @hydra.main(version_base="1.3", config_path="pkg://evaluator.conf", config_name=config_name)
    def _main(cfg: DictConfig) -> None:
        with report_and_exit(env_rank()):
            check(cfg)
            for key in ("edit_dir", "out_dir"):  # folders that cannot be written: said before anything starts
                if cfg.get(key):
                    checks.check_out_dir(Path(str(cfg[key])).expanduser().resolve(), key)
            # A first line within a second: importing torch and Lightning takes several more.
            log.info("config checked; results go to %s; starting", cfg.get("out_dir"))
            module, function = run.split(":")
            getattr(importlib.import_module(module), function)(cfg)

    def main() -> None:
        if any(a in _HELP for a in sys.argv[1:]):  # Hydra composes the config even for --help
            sys.argv += [r for r in required if not any(a.startswith(r.split("=")[0] + "=") for a in sys.argv)]
        logs.setup("INFO", rank=env_rank())
        sys.argv[1:] = as_meant(sys.argv[1:])  # before Hydra reads them: 429_100 stays text
        with report_and_exit(env_rank()):
            compose.check_overrides(sys.argv[1:], config_name)
            _main()  # Hydra composes again here: Ctrl-C meanwhile is one line too

    return main
