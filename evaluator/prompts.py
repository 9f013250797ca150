"""Prompts: turning a sample into the judge's chat messages, and a batch of them into model inputs.

A judge's prompt is data (``conf/judge/*.yaml``): a system text and a list of user parts, each ``{text: ...}``,
``{file: path}`` (a text kept in its own file) or ``{image: source|edited}``. Texts are ``string.Template``s, so
``$instruction``, ``$category``, ``$language`` and ``$rubric`` are filled in while the JSON braces a prompt asks
for need no escaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

IMAGE_ROLES = ("source", "edited")


@dataclass(frozen=True)
class Prompt:
    """A judge prompt: the system text and the ordered user parts."""

    system: str
    parts: tuple[dict, ...]

    @classmethod
    def from_config(cls, cfg: Mapping) -> Prompt:
        """Build from a judge config's ``system`` and ``user`` keys, checking every part and placeholder."""
        parts = tuple(
            {"text": Path(p["file"]).expanduser().read_text()} if "file" in p else dict(p) for p in cfg["user"]
        )
        for p in parts:
            if set(p) == {"text"}:
                Template(p["text"]).substitute(_PLACEHOLDER_CHECK)
            elif set(p) != {"image"} or p["image"] not in IMAGE_ROLES:
                raise ValueError(f"a prompt part is {{text: ...}}, {{file: path}} or {{image: source|edited}}, not {p}")
        return cls(system=str(cfg["system"]).strip(), parts=parts)

    @property
    def images(self) -> list[str]:
        """The image roles in the order the judge sees them."""
        return [p["image"] for p in self.parts if "image" in p]

    def messages(self, sample, extra: Mapping[str, str] | None = None) -> list[dict]:
        """The chat for one sample; image parts are placeholders the processor fills in order."""
        values = {
            "instruction": sample.instruction,
            "category": sample.category or "",
            "language": sample.language or "",
            **(extra or {}),
        }
        content = [
            {"type": "image"} if "image" in p else {"type": "text", "text": Template(p["text"]).substitute(values)}
            for p in self.parts
        ]
        return [{"role": "system", "content": self.system}, {"role": "user", "content": content}]


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
            for j in self.scheme.judgements:
                chat = self.processor.apply_chat_template(
                    j.prompt.messages(it["sample"], extra), tokenize=False, add_generation_prompt=True
                )
                keys = j.keys if self.scheme.mode == "logits" else (None,)
                for key in keys:
                    prefix = Template(self.scheme.logits_prefix).substitute(key=key) if key else ""
                    texts.append(chat + prefix)
                    images.append([it[role] for role in j.prompt.images])
                    rows.append((pos, j.name, key))
        inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        return {
            "inputs": dict(inputs),
            "rows": rows,
            "images_per_row": [len(im) for im in images],
            "id": [it["sample"].id for it in items],
        }
