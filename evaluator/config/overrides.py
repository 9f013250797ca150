"""Command-line overrides read as the user meant them.

Hydra's override grammar reads ``api.model=429_100`` as the integer 429100 (underscores group digits), and the
typed schema then turns it into the text "429100": a model of another name. A number-like value of a setting the
schema types as text is quoted before Hydra sees it, so it stays the text typed.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence

from evaluator.config import benchmark_data, schema

# A value Hydra's override grammar would read as a number: 429_100 is the integer 429100, 1e3 the float 1000.0.
_NUMBER_LIKE = re.compile(r"[+-]?(?:[\d_]*\.?[\d_]+(?:[eE][+-]?\d+)?|inf|nan)", re.IGNORECASE)


@functools.cache
def _string_keys() -> frozenset[str]:
    """Every dotted key the schema types as text (``api.model``, ``data.model_name``, ``model.revision``, ...)."""
    keys = set()

    def walk(cls, prefix: str) -> None:
        for f in dataclasses.fields(cls):
            kind = str(f.type)
            if kind in ("str", "str | None"):
                keys.add(prefix + f.name)
            nested = getattr(schema, kind.removesuffix(" | None"), None)
            if isinstance(nested, type) and dataclasses.is_dataclass(nested):
                walk(nested, f"{prefix}{f.name}.")

    for cls in (schema.EvalConfig, schema.PipelineConfig, schema.EditConfig):
        walk(cls, "")
    for group, classes in {"data": (schema.ManifestData, *benchmark_data.SCHEMAS.values()),
                           "model": (schema.ModelConfig,), "editor": (schema.EditorConfig,),
                           "judge": (schema.JudgeConfig,), "trainer": (schema.TrainerConfig,)}.items():  # fmt: skip
        for cls in classes:
            walk(cls, f"{group}.")
    return frozenset(keys)


def quote_text_values(overrides: Sequence[str]) -> list[str]:
    """The overrides, with a number-like value of a text setting quoted: ``api.model=429_100`` names the model
    "429_100", which Hydra alone would read as the integer 429100 and the schema then turn into "429100"."""
    keys, out = _string_keys(), []
    for o in overrides:
        key, eq, value = o.partition("=")
        if eq and key.lstrip("+~") in keys and _NUMBER_LIKE.fullmatch(value) and "'" not in value:
            o = f"{key}='{value}'"
        out.append(o)
    return out


# Settings whose keys the user names (``arena.editors.NAME=PATH``): Hydra adds a key to them only with "++".
_NAMED_ENTRIES = ("arena.editors.", "data.editors.")


def as_meant(overrides: Sequence[str]) -> list[str]:
    """``quote_text_values``, and an entry of a setting whose keys the user names (``arena.editors.v2=...``)
    added or replaced without Hydra's ``++`` prefix."""
    return [f"++{o}" if o.startswith(_NAMED_ENTRIES) and "=" in o else o for o in quote_text_values(overrides)]
