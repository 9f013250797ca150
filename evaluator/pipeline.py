"""``python -m evaluator.pipeline editor=... model=... [hydra overrides]`` (or ``evaluator-pipeline ...``): make the
edits, then judge them, in one job."""

from evaluator import cli
from evaluator.edit import checks

main = cli.entry("pipeline", checks.check_pipeline, "evaluator.edit.then_judge:run", required=("editor=tiny",))

if __name__ == "__main__":
    main()
