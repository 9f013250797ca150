"""Prompts: turning a sample into the judge's chat messages, and a batch of them into model inputs.

A judge's prompt is data (``conf/judge/*.yaml``): a system text and a list of user parts, each ``{text: ...}``,
``{file: path}`` (a text kept in its own file), ``{image: source|edited|second|reference|source2...}``, or
``{official: ...}`` (a benchmark's own wording, read from ``judge.official_source``: see
``evaluator.scoring.official``). Texts are ``string.Template``s, so ``$instruction``, ``$category``, ``$language`` and
``$rubric`` are filled in while the JSON braces a prompt asks for need no escaping. Official texts are used verbatim,
with only their ``placeholder`` replaced by the instruction, as the benchmarks do. A text part with ``format: {name:
field}`` is filled as a benchmark's script fills it, with Python's ``str.format``: each ``{name}`` by the sample's
``field`` (``instruction``, or a field of the benchmark's data such as RISEBench's ``reference``), and no ``$``
placeholders. A judgement whose user parts are one ``{template: <prompt id>, version: vN}`` takes its system prompt and
parts from that GEditBench v2 template under
``judge.official_source``, its texts rendered with Jinja as its templates are (``{{ instruction }}``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from string import Template

import jinja2

from evaluator.runtime.textfiles import read_text_file
from evaluator.scoring import official

# second: the candidate a pairwise judgement shows second; reference: a benchmark's reference image (RISEBench);
# source2...: further input images of one edit (KRIS-Bench's compositions of up to five, its frames)
IMAGE_ROLES = ("source", "edited", "second", "reference", *(f"source{i}" for i in range(2, 10)))


@dataclass(frozen=True)
class Prompt:
    """A judge prompt: the system text and the ordered user parts."""

    system: str
    parts: tuple[dict, ...]
    file: str | None = None  # the template file it was read from, if any

    @classmethod
    def from_config(cls, cfg: Mapping, official_source: str | None = None) -> Prompt:
        """Build from a judge config's ``system`` and ``user`` keys, checking every part and placeholder.

        An ``official`` part names the source's texts to join (a list), or ``category`` for the text named by
        each sample's category; either way the text is kept here, so a run's fingerprint covers the wording.
        """
        user = [dict(p) for p in cfg["user"]]
        if len(user) == 1 and "template" in user[0]:
            if not official_source:
                raise ValueError("a {template: ...} prompt needs judge.official_source=<its prompts folder>")
            found = official.read_template(official_source, str(user[0]["template"]), str(user[0]["version"]))
            parts = tuple(found["parts"])
            for p in parts:
                _check(p)
            return cls(system=found["system"], parts=parts, file=found["file"])  # verbatim, as its adapter sends it
        parts = tuple(_part(p, official_source) for p in user)
        for p in parts:
            _check(p)
        return cls(system=str(cfg["system"]).strip(), parts=parts)

    @property
    def images(self) -> list[str]:
        """The image roles in the order the judge sees them."""
        return [p["image"] for p in self.parts if "image" in p]

    @property
    def categories(self) -> set[str] | None:
        """The categories an official per-category prompt has a text for; None if the prompt takes any."""
        found = [set(p["by_category"]) for p in self.parts if "by_category" in p]
        return found[0] if found else None

    def messages(self, sample, extra: Mapping[str, str] | None = None) -> list[dict]:
        """The chat for one sample; image parts (``{"type": "image", "role": ...}``) are placeholders the processor
        fills in order. An empty system text sends no system message, as the benchmarks' own scorers do."""
        values = {
            "instruction": sample.instruction,
            "category": sample.category or "",
            "language": sample.language or "",
            **(extra or {}),
        }
        content = [_content(p, sample, values) for p in self.parts]
        system = [{"role": "system", "content": self.system}] if self.system else []
        return [*system, {"role": "user", "content": content}]


def _part(p: dict, source: str | None) -> dict:
    fmt = {"format": {str(k): str(v) for k, v in p["format"].items()}} if p.get("format") else {}
    if "file" in p:
        return {"text": read_text_file(p["file"], "a prompt part's file"), **fmt}
    if "official" not in p:
        return {**{k: v for k, v in p.items() if k != "format"}, **fmt}
    if not source:
        raise ValueError("an {official: ...} prompt part needs judge.official_source=<the benchmark's file>")
    texts, names, placeholder = official.texts(source), p["official"], str(p.get("placeholder", ""))
    for r in p.get("replace") or []:  # EditScore's scorer rewrites a text's scale: "10" -> "25" in one named text
        if names == "category" or r["in"] not in names or r["in"] not in texts:
            raise ValueError(f"replace names a text of this part, not {r['in']!r}")
        texts[r["in"]] = texts[r["in"]].replace(str(r["old"]), str(r["new"]))
    if names == "category":
        return {"by_category": texts, "placeholder": placeholder}
    return {"literal": official.join_parts(texts, list(names), source), "placeholder": placeholder, **fmt}


def _check(p: dict) -> None:
    if "format" in p:
        text = p.get("text", p.get("literal"))
        if text is None or set(p) - {"text", "literal", "placeholder", "format"}:
            raise ValueError(f"format fills a text part, not {sorted(p)}")
        try:
            text.format(**dict.fromkeys(p["format"], ""))
        except (KeyError, IndexError, ValueError) as e:  # a name the text asks for and format does not give
            raise ValueError(f"a prompt text's {{placeholder}} is not filled by its format: {e!r}") from None
    elif set(p) == {"text"}:
        Template(p["text"]).substitute(_PLACEHOLDER_CHECK)
    elif set(p) == {"jinja"}:
        try:
            _jinja(p["jinja"])
        except jinja2.TemplateError as e:
            raise ValueError(f"a template's text is no Jinja template: {e}") from None
    elif not ((set(p) == {"image"} and p["image"] in IMAGE_ROLES) or "literal" in p or "by_category" in p):
        raise ValueError(
            "a prompt part is {text: ...}, {file: path}, {image: source|edited|second|reference} or "
            f"{{official: ...}}, not {p}"
        )


def _content(part: dict, sample, values: Mapping[str, str]) -> dict:
    if "image" in part:
        return {"type": "image", "role": part["image"]}
    if "format" in part:
        text = part.get("text", part.get("literal"))
        return {"type": "text", "text": text.format(**{k: field_of(sample, f) for k, f in part["format"].items()})}
    if "text" in part:
        return {"type": "text", "text": Template(part["text"]).substitute(values)}
    if "jinja" in part:
        return {"type": "text", "text": _jinja(part["jinja"]).render(instruction=sample.instruction)}
    text = part["literal"] if "literal" in part else part["by_category"][sample.category or ""]
    if part["placeholder"]:
        text = text.replace(part["placeholder"], sample.instruction)
    return {"type": "text", "text": text}


@functools.lru_cache(maxsize=64)
def _jinja(text: str) -> jinja2.Template:
    return jinja2.Template(text)


def field_of(sample, name: str) -> str:
    """A sample's field as a prompt's ``format`` fills it in: the instruction, the category, or a field of the
    benchmark's data.

    Raises:
        ValueError: the sample has no such field (the layout chose a prompt its item cannot fill).
    """
    if name in ("instruction", "category"):
        return str(getattr(sample, name) or "")
    if sample.extra.get(name) is None:
        raise ValueError(f"sample {sample.id}: its prompt fills in {name!r}, which it does not have")
    return str(sample.extra[name])


def prompt_records(scheme, samples) -> list[dict]:
    """What the judge is asked, one record per sample and judgement (``dry_run``): the id, the judgement, and
    the chat with each image named by its role and path, texts exactly as sent."""
    records = []
    for s in samples:
        extra = scheme.values(s)
        for j, prompt in scheme.asked(s):
            chat = prompt.messages(s, extra)
            for c in chat[-1]["content"]:
                if c["type"] == "image":
                    c["path"] = s.image(c["role"])
            records.append({"id": s.id, "judgement": j.name, "messages": chat})
    return records


_PLACEHOLDER_CHECK = {"instruction": "", "category": "", "language": "", "rubric": ""}


class Collator:
    """Turns dataset items into one padded model batch; runs in DataLoader workers, off the GPU's path.

    Each sample gives one model row per judgement of the scheme; in logits mode one per score key, with the
    judge's reply pre-filled up to where that score comes (``scheme.logits_prefix``).
    """

    def __init__(self, processor, scheme):
        self.processor = processor
        self.scheme = scheme

    def __call__(self, items: Sequence[dict]) -> dict:
        texts, images, rows = [], [], []
        for pos, it in enumerate(items):
            extra = self.scheme.values(it["sample"])
            for j, prompt in self.scheme.asked(it["sample"]):
                chat = self.processor.apply_chat_template(
                    prompt.messages(it["sample"], extra), tokenize=False, add_generation_prompt=True
                )
                keys = j.keys if self.scheme.mode == "logits" else (None,)
                for key in keys:
                    prefix = Template(self.scheme.logits_prefix).substitute(key=key) if key else ""
                    texts.append(chat + prefix)
                    images.append([it[role] for role in prompt.images])
                    rows.append((pos, j.name, key))
        inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        return {
            "inputs": dict(inputs),
            "rows": rows,
            "images_per_row": [len(im) for im in images],
            "id": [it["sample"].id for it in items],
            "items": [it["sample"].item for it in items],
        }
