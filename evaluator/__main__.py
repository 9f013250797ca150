"""``python -m evaluator [hydra overrides]``: score a data set with a VLM judge on every visible device."""

import hydra
from omegaconf import DictConfig

from evaluator.config import register_resolvers
from evaluator.errors import report_and_exit
from evaluator.run import run

register_resolvers()


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    with report_and_exit():
        run(cfg)


if __name__ == "__main__":
    main()
