"""The benchmarks' own prompt wording, read at run time from the user's checkout of the benchmark (never shipped).

GEdit-Bench keeps its VIEScore prompts as string constants in ``viescore/vie_prompts.py`` (RISEBench likewise in
``utils.py``); ImgEdit-Bench keeps one prompt per edit type in ``Benchmark/Basic/prompts.json``; GEditBench v2 keeps
each prompt as a versioned YAML template, ``src/prompts/assets/<prompt id>/<version>.yaml`` (a system prompt, and
text and image blocks). A Python file is read as data: parsed with ``ast``, never imported or run.
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


# GEditBench v2's prompt adapter puts a text between two blocks: nothing after a text, a newline after an image
# before a text, a blank line between two images.
TEMPLATE_SEPARATORS = {("text", "image"): "", ("image", "text"): "\n", ("image", "image"): "\n\n"}
TEMPLATE_IMAGES = {("input_image", None): "source", ("edited_images", 0): "edited", ("edited_images", 1): "second"}


def read_template(root: str | Path, prompt_id: str, version: str) -> dict:
    """A GEditBench v2 prompt template as prompt parts: ``{"system": text, "parts": [...], "file": path}``, its
    text blocks as ``{"jinja": text}`` (rendered as its template renders them), its images by role, and the
    separators its adapter puts between blocks as ``{"text": ...}`` parts.

    Raises:
        ValueError: the file cannot be read, or holds another shape or an image we do not know.
    """
    import yaml

    path = Path(root).expanduser() / prompt_id / f"{version}.yaml"
    try:
        data = yaml.safe_load(read_text_file(path, "judge.official_source"))
        blocks, system = data["user_prompt"], str(data.get("system_prompt") or "")
    except (yaml.YAMLError, KeyError, TypeError) as e:
        raise ValueError(f"{path} is not a prompt template of system_prompt and user_prompt ({e!r})") from None
    parts, kinds = [], []
    for block in blocks:
        if "text" in block:
            part, kind = {"jinja": str(block["text"])}, "text"
        else:
            image = block.get("image") or {}
            role = TEMPLATE_IMAGES.get((image.get("source"), image.get("index")))
            if role is None:
                raise ValueError(f"{path}: an image block of {image}, not the input image or edited image 0 or 1")
            part, kind = {"image": role}, "image"
        if kinds:
            parts.append({"text": TEMPLATE_SEPARATORS.get((kinds[-1], kind), "\n")})
        parts.append(part)
        kinds.append(kind)
    return {"system": system, "parts": parts, "file": str(path)}


def source_record(path: str | Path) -> dict:
    """What a run records of an official scheme's prompt source (``summary.json``'s ``scheme``): its path and the
    SHA-256 of its bytes, so a published table can say which version of a benchmark's prompts it followed."""
    from evaluator.runtime.hashing import file_digest

    if Path(path).expanduser().is_dir():  # a folder of templates: what each template read is recorded
        return {"official_source": str(path)}
    return {"official_source": str(path), "official_source_sha256": file_digest(path)}
