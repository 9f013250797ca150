"""``python -m evaluator [hydra overrides]`` (or ``evaluator ...``): score a data set with a VLM judge on every
visible device."""

from evaluator import cli
from evaluator.config import checks

main = cli.entry("eval", checks.check_judge, "evaluator.judge.stage:run")

if __name__ == "__main__":
    main()
