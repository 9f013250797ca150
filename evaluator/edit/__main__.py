"""``python -m evaluator.edit editor=... [hydra overrides]`` (or ``evaluator-edit ...``): make the edits of a data
set with an image-editing pipeline on every visible device, in the layout the judge reads."""

from evaluator import cli
from evaluator.edit import checks

main = cli.entry("edit", checks.check_edit, "evaluator.edit.stage:run", required=("editor=tiny",))

if __name__ == "__main__":
    main()
