"""``python -m evaluator.pipeline editor=... model=... [hydra overrides]`` (or ``evaluator-pipeline ...``): make the
edits, then judge them, in one job."""

from evaluator import cli, edit_config

main = cli.entry("pipeline", edit_config.check_pipeline, "evaluator.edit_then_judge:run", required=("editor=tiny",))

if __name__ == "__main__":
    main()
