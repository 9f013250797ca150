"""``python -m evaluator.edit editor=... [hydra overrides]`` (or ``evaluator-edit ...``): make the edits of a data
set with an image-editing pipeline on every visible device, in the layout the judge reads."""

from evaluator import cli, edit_config

main = cli.entry("edit", edit_config.check_edit, "evaluator.editing:run", required=("editor=tiny",))

if __name__ == "__main__":
    main()
