"""Prompts: turning a sample into the judge's chat messages, and a batch of them into model inputs.

A judge's prompt is data (``conf/judge/*.yaml``): a system text and a list of user parts, each either
``{text: ...}`` or ``{image: source|edited}``. Texts are ``string.Template``s, so ``$instruction`` (and
``$category``, ``$language``) are filled in while the JSON braces a prompt asks for need no escaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
        parts = tuple(dict(p) for p in cfg["user"])
        for p in parts:
            if set(p) == {"text"}:
                Template(p["text"]).substitute(_PLACEHOLDER_CHECK)
            elif set(p) != {"image"} or p["image"] not in IMAGE_ROLES:
                raise ValueError(f"a prompt part is {{text: ...}} or {{image: source|edited}}, not {p}")
        return cls(system=str(cfg["system"]).strip(), parts=parts)

    @property
    def images(self) -> list[str]:
        """The image roles in the order the judge sees them."""
        return [p["image"] for p in self.parts if "image" in p]

    def messages(self, sample) -> list[dict]:
        """The chat for one sample; image parts are placeholders the processor fills in order."""
        values = {
            "instruction": sample.instruction,
            "category": sample.category or "",
            "language": sample.language or "",
        }
        content = [
            {"type": "image"} if "image" in p else {"type": "text", "text": Template(p["text"]).substitute(values)}
            for p in self.parts
        ]
        return [{"role": "system", "content": self.system}, {"role": "user", "content": content}]


_PLACEHOLDER_CHECK = {"instruction": "", "category": "", "language": ""}


class Collator:
    """Turns dataset items into one padded model batch; runs in DataLoader workers, off the GPU's path."""

    def __init__(self, processor, prompt: Prompt):
        self.processor = processor
        self.prompt = prompt

    def __call__(self, items: Sequence[dict]) -> dict:
        texts = [
            self.processor.apply_chat_template(
                self.prompt.messages(it["sample"]), tokenize=False, add_generation_prompt=True
            )
            for it in items
        ]
        images = [[it[role] for role in self.prompt.images] for it in items]
        inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        return {
            "inputs": dict(inputs),
            "index": [it["index"] for it in items],
            "id": [it["sample"].id for it in items],
        }
