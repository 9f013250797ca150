"""The benchmarks' own prompt wording, read at run time from the user's checkout of the benchmark (never shipped).

GEdit-Bench keeps its VIEScore prompts as string constants in ``viescore/vie_prompts.py``; ImgEdit-Bench keeps
one prompt per edit type in ``Benchmark/Basic/prompts.json``. The Python file is read as data: parsed with
``ast``, never imported or run.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from evaluator.runtime.textfiles import read_text_file


def read_constants(path: str | Path) -> dict[str, str]:
    """The module-level string constants of a Python file (``NAME = "..."``, implicit or ``+`` concatenation).

    Raises:
        ValueError: the file cannot be read or parsed.
    """
    path = Path(path).expanduser()
    text = read_text_file(path, "judge.official_source")
    try:
        tree = ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:  # nested too deep for the parser
        why = f"{type(e).__name__}: {str(e)[:200]}"
        raise ValueError(f"judge.official_source={path} cannot be read as Python source ({why})") from None
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                text = _string(node.value)
            except RecursionError:  # "a" + "b" + ... joined deeper than Python's stack: no prompt text
                text = None
            if text is not None:
                constants[node.targets[0].id] = text
    return constants


def _string(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _string(node.left), _string(node.right)
        return None if left is None or right is None else left + right
    return None


def read_prompt_map(path: str | Path) -> dict[str, str]:
    """A JSON object of name -> prompt text, such as ImgEdit-Bench's ``prompts.json``.

    Raises:
        ValueError: the file cannot be read, or is not an object of strings.
    """
    path = Path(path).expanduser()
    text = read_text_file(path, "judge.official_source")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        why = f"{type(e).__name__}: {str(e)[:200]}"
        raise ValueError(f"judge.official_source={path} cannot be read as JSON ({why})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"judge.official_source={path} is not a JSON object of name -> prompt text")
    return data


def texts(path: str | Path) -> dict[str, str]:
    """Every named text of an official source: a ``.json`` file's entries, else a Python file's constants."""
    return read_prompt_map(path) if str(path).endswith(".json") else read_constants(path)


def join_parts(available: dict[str, str], names: list[str], path) -> str:
    """The named texts joined with newlines, as VIEScore joins its prompt pieces.

    Raises:
        ValueError: naming the texts the source lacks.
    """
    missing = [n for n in names if n not in available]
    if missing:
        raise ValueError(f"judge.official_source={path} has no {', '.join(missing)}; is it the benchmark's file?")
    return "\n".join(available[n] for n in names)


def source_record(path: str | Path) -> dict:
    """What a run records of an official scheme's prompt source (``summary.json``'s ``scheme``): its path and the
    SHA-256 of its bytes, so a published table can say which version of a benchmark's prompts it followed."""
    from evaluator.runtime.hashing import file_digest

    return {"official_source": str(path), "official_source_sha256": file_digest(path)}
