"""What the evaluator scores and what can be wrong with it: ``Sample`` and ``Problem``."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum

# The names a run writes into its own rows: a sample's result (score, error, replies, server counts), a pair's
# bookkeeping (which pair, which order or candidate, which editors) and a pair's verdict. An input column of one of
# these names would contradict or override the run's own value, so it is kept as ``input.<name>`` instead.
RUN_FIELDS = frozenset({
    "score", "error", "error_detail", "rank", "seconds", "digest", "index", "response", "thinking",
    "second", "pair_id", "order", "candidate", "editor_a", "editor_b", "sample_id",
    "winner", "consistent", "p_a", "score_a", "score_b", "verdict_ab", "verdict_ba", "edited_a", "edited_b",
    "same_as", "samples_unparsed",
})  # fmt: skip
RUN_PREFIXES = ("response.", "thinking.", "error.", "api_")
RUN_SUFFIXES = ("_argmax", "_confidence")
INPUT_PREFIX = "input."


@dataclass(frozen=True)
class Sample:
    """One (source, edited, instruction) triple; image paths are absolute, ``row`` counts input rows from 1.

    A pairwise judgement (``data=pairs`` with ``judge=pairwise``) shows two candidates: ``edited`` first, then
    ``second``; ``second`` is None for every other sample. ``reference`` is a benchmark's reference image (RISEBench's
    ``reference_img``, KRIS-Bench's ground truth), shown where the benchmark's prompt for the item shows it.
    ``more_sources`` are further input images of one edit (KRIS-Bench's composition and frame items), roles
    ``source2``, ``source3``, ...
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
    reference: str | None = None
    more_sources: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        """The id of the input row this sample comes from: its pair's id for one of a pair's samples."""
        return str(self.extra.get("pair_id", self.id))

    @property
    def images(self) -> tuple[str, ...]:
        """The roles of the images this sample has: source, edited, and second, reference and further sources
        where set."""
        more = tuple(f"source{i}" for i in range(2, len(self.more_sources) + 2))
        return (
            ("source", "edited")
            + (("second",) if self.second else ())
            + (("reference",) if self.reference else ())
            + more
        )

    def image(self, role: str) -> str:
        """The path of the image in ``role`` (one of ``images``)."""
        if role.startswith("source") and role[6:].isdigit():
            return self.more_sources[int(role[6:]) - 2]
        return getattr(self, role)

    @property
    def item(self) -> dict:
        """What a benchmark's own arithmetic reads of this sample: its data fields and its category."""
        return {**self.extra, "category": self.category}

    def fields(self) -> dict:
        """The input fields as they go into a result row."""
        return {
            "id": self.id,
            "source": self.source,
            "edited": self.edited,
            **({"second": self.second} if self.second else {}),
            **({"reference": self.reference} if self.reference else {}),
            **{role: self.image(role) for role in self.images if role[6:].isdigit()},
            "instruction": self.instruction,
            "category": self.category,
            "language": self.language,
            **self.extra,
        }

    def input_fields(self) -> dict:
        """The fields of the input row this sample comes from: for one of a pair's samples the pair's own (its id
        and both edits), without what showing one order or one candidate adds."""
        if "pair_id" not in self.extra:
            return self.fields()
        per_sample = ("edited", "second", "pair_id", "order", "candidate")
        return {**{k: v for k, v in self.fields().items() if k not in per_sample}, "id": self.unit}


def keep_apart(record: dict, own: Collection[str], reserved: Collection[str] = ()) -> tuple[dict, list[str]]:
    """An input record with every column the run writes itself (``RUN_FIELDS``, names with ``RUN_PREFIXES`` or
    ``RUN_SUFFIXES``, and ``reserved``: the scheme's criteria) renamed ``input.<name>``, except the layout's
    ``own`` input columns; and the names renamed. ``input.`` is added again while the new name is taken."""

    def run_field(k) -> bool:
        if not isinstance(k, str) or k in own:
            return False
        return k in RUN_FIELDS or k in reserved or k.startswith(RUN_PREFIXES) or k.endswith(RUN_SUFFIXES)

    renamed = [k for k in record if run_field(k)]
    if not renamed:
        return record, []
    out = {k: v for k, v in record.items() if k not in renamed}
    for k in renamed:
        name = INPUT_PREFIX + k
        while name in out or name in record:
            name = INPUT_PREFIX + name
        out[name] = record[k]
    return out, renamed


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


@dataclass
class Loaded:
    """The samples a layout read: those to score, the problems that stop a run (bad rows, missing source images),
    and the samples whose edited image is missing, which become result rows with error "missing edit"."""

    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    missing: list[Sample] = field(default_factory=list)


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
