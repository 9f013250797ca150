"""``python -m evaluator.arena arena.editors.A=a.jsonl arena.editors.B=b.jsonl [hydra overrides]`` (or
``evaluator-arena ...``): rank editors by judging every pair of their edits of each id, both orders each, on every
visible device; see ``evaluator.inputs.arena`` and ``evaluator.results.ratings``."""

from evaluator import cli
from evaluator.config import checks

main = cli.entry("arena", checks.check_arena, "evaluator.judge.stage:run")

if __name__ == "__main__":
    main()
