"""What the evaluator scores and what can be wrong with it: ``Sample`` and ``Problem``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True)
class Sample:
    """One (source, edited, instruction) triple; image paths are absolute, ``row`` counts input rows from 1.

    A pairwise judgement (``data=pairs`` with ``judge=pairwise``) shows two candidates: ``edited`` first, then
    ``second``; ``second`` is None for every other sample.
    """

    id: str
    source: str
    edited: str
    instruction: str
    category: str | None = None
    language: str | None = None
    extra: dict = field(default_factory=dict)
    row: int = 0
    second: str | None = None

    @property
    def images(self) -> tuple[str, ...]:
        """The roles of the images this sample has: source, edited, and second where set."""
        return ("source", "edited", "second") if self.second else ("source", "edited")

    def fields(self) -> dict:
        """The input fields as they go into a result row."""
        return {
            "id": self.id,
            "source": self.source,
            "edited": self.edited,
            **({"second": self.second} if self.second else {}),
            "instruction": self.instruction,
            "category": self.category,
            "language": self.language,
            **self.extra,
        }


class Kind(str, Enum):
    """What kind of problem a row has; the value is the words a summary shows."""

    FILE = "unreadable input"  # the manifest or metadata itself (row 0)
    NO_SAMPLES = "no samples"
    UNREADABLE_LINE = "unreadable line"
    MISSING_FIELD = "missing field"
    BAD_VALUE = "unknown value"
    EXTRA_CELLS = "more cells than the header"
    NOT_UTF8 = "not valid UTF-8"
    OUTSIDE_ROOT = "path escapes the data root"
    DUPLICATE_ID = "duplicate id"
    NOT_FOUND = "image not found"
    EMPTY = "empty image file"
    UNSUPPORTED = "unsupported image format"
    UNDECODABLE = "image does not decode"
    TOO_LARGE = "image too large"
    TOO_SMALL = "image too small"
    ELONGATED = "image too elongated"
    TOO_LONG = "instruction too long"


@dataclass(frozen=True)
class Problem:
    """Something wrong with one input row (``row`` counts data rows from 1; 0 is the file itself)."""

    row: int
    id: str
    kind: Kind
    message: str

    @property
    def reason(self) -> str:
        """The problem without its details (paths, sizes), e.g. "source image not found"."""
        return self.message.split(":")[0].split(" (")[0]
