"""``python -m evaluator [hydra overrides]`` (or ``evaluator ...``): score a data set with a VLM judge on every
visible device."""

import sys

import hydra
from omegaconf import DictConfig

from evaluator import config, logs
from evaluator.errors import report_and_exit
from evaluator.topology import env_rank

config.setup()


@hydra.main(version_base="1.3", config_path="pkg://evaluator.conf", config_name="eval")
def _main(cfg: DictConfig) -> None:
    with report_and_exit(env_rank()):
        config.check(cfg)  # before torch, Lightning and transformers are imported: a mistake answers at once
        from evaluator.run import run

        run(cfg)


def main() -> None:
    """The console script: check the command line, then let Hydra compose the config and call ``run``."""
    logs.setup("INFO", rank=env_rank())
    with report_and_exit(env_rank()):
        config.check_overrides(sys.argv[1:])
    _main()


if __name__ == "__main__":
    main()
