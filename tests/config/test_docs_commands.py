"""Every Hydra command README.md and docs/ show composes as written: no key, option or form there has gone stale.
(The ones that run offline run for real elsewhere: the demo in CI, the pipeline, arena and Python API tests.)"""

import re
import shlex

import pytest

from evaluator.config.compose import check_overrides

from ..conftest import REPO

CONFIGS = {"evaluator": "eval", "evaluator.pipeline": "pipeline", "evaluator.edit": "edit", "evaluator.arena": "arena"}
LAUNCH = {"edit": "edit", "pipeline": "pipeline"}


def _commands() -> list[tuple[str, str, list[str]]]:
    """(where, config name, overrides) of every Hydra command in a bash block of the README or a docs page."""
    found = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #")[0].strip()
                if not line or "..." in line:
                    continue
                try:
                    words = shlex.split(line)
                except ValueError:  # a quote opened on one line of a shell snippet and closed on another
                    continue
                config, args = _hydra_command(words)
                if config:
                    found.append((f"{page.relative_to(REPO)}: {line[:60]}", config, args))
    return found


def _hydra_command(words: list[str]) -> tuple[str | None, list[str]]:
    if words[0] in ("evaluator", "evaluator-pipeline", "evaluator-edit", "evaluator-arena"):
        return CONFIGS[words[0].replace("-", ".")], words[1:]
    if words[0] == "./launch.sh":
        if words[1:2] and words[1] in LAUNCH:
            return LAUNCH[words[1]], words[2:]
        return "eval", words[1:]
    if "-m" in words:
        i = words.index("-m")
        return CONFIGS.get(words[i + 1]), words[i + 2 :]
    return None, []


COMMANDS = _commands()


def test_the_docs_show_hydra_commands_of_every_entry_point():
    assert {config for _, config, _ in COMMANDS} == set(CONFIGS.values())
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize(("where", "config", "args"), COMMANDS, ids=[w for w, _, _ in COMMANDS])
def test_a_documented_command_composes_as_written(where, config, args):
    check_overrides(args, config)
