"""``python -m evaluator [hydra overrides]`` (or ``evaluator ...``): score a data set with a VLM judge on every
visible device."""

from evaluator import cli, config

main = cli.entry("eval", config.check, "evaluator.run:run")

if __name__ == "__main__":
    main()
