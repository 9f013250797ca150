"""The judge from Python: ``Judge.from_config(model="tiny", judge="viescore").score(sources, edits, instructions)``.

For a training loop's validation or as a reward function. A local judge lives on the calling rank's device, frozen
(inference mode, no gradients), and is never wrapped in DDP or broadcast: each rank loads its own copy. With
``backend=api`` (``overrides=["backend=api", "api.base_url=...", "api.model=..."]``) each rank has its own client
of the server(s), loads nothing, and returns rows of the same form.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image

from evaluator.config.checks import check_judge
from evaluator.config.compose import compose
from evaluator.inputs.samples import Sample
from evaluator.judge.loading import load_model, load_processor
from evaluator.judge.module import JudgeModule
from evaluator.runtime.errors import ConfigError
from evaluator.scoring.prompts import Collator
from evaluator.scoring.schemes import Scheme


def default_device() -> torch.device:
    """This rank's device: ``cuda:LOCAL_RANK`` (or the current CUDA device) when there is a GPU, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", torch.cuda.current_device())))


def to_pil(image) -> Image.Image:
    """A PIL image from a PIL image, a CHW tensor (float in [0, 1] or uint8) or an HWC uint8 array."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, torch.Tensor):
        from torchvision.transforms.functional import to_pil_image

        tensor = image.detach().cpu()
        if tensor.is_floating_point():
            tensor = tensor.clamp(0, 1)
        return to_pil_image(tensor).convert("RGB")
    if isinstance(image, np.ndarray):
        return Image.fromarray(image).convert("RGB")
    raise TypeError(f"an image is a PIL image, a CHW tensor or an HWC array, not {type(image).__name__}")


class Judge:
    """A loaded judge that scores lists of (source, edited, instruction) in batches.

    Args:
        cfg: a composed run config (see ``from_config``).
        device: where the judge runs; default: this rank's device.
        model: an already loaded model (default: load ``cfg.model`` onto ``device``).
    """

    def __init__(self, cfg: DictConfig, device: torch.device | str | None = None, model=None):
        if cfg.backend == "vllm":
            raise ConfigError(
                "backend=vllm starts and stops its servers within a run (python -m evaluator); from Python, start "
                "vllm serve yourself and use backend=api with api.base_url (api.prefill=true for logit mode)"
            )
        check_judge(cfg, checkpoint=model is None)
        self.cfg = cfg
        self.device = torch.device(device) if device is not None else default_device()
        self.scheme = Scheme.from_config(cfg.judge)
        if self.scheme.per_item:
            raise ConfigError(f"judge={self.scheme.name} asks what a benchmark's layout chooses per item: run it on "
                              "the benchmark's data with python -m evaluator")  # fmt: skip
        batch_size = cfg.data.batch_size
        self.batch_size = 4 if batch_size == "auto" else int(batch_size)
        self.module = None  # backend=api: a server judges
        if cfg.backend == "api":
            return
        self.processor = load_processor(cfg.model, cfg.data.max_pixels)
        model = model if model is not None else load_model(cfg.model, self.device)
        self.module = JudgeModule(cfg.model, self.scheme, self.processor, seed=int(cfg.seed), model=model)
        self.module.to(self.device)
        self.collate = Collator(self.processor, self.scheme)

    @classmethod
    def from_config(
        cls,
        cfg: DictConfig | None = None,
        *,
        model: str = "qwen3_vl_8b",
        judge: str = "score10",
        overrides: Sequence[str] = (),
        device: torch.device | str | None = None,
    ) -> Judge:
        """Load a judge from a composed config, or from preset names and Hydra overrides.

        Examples: ``Judge.from_config(model="tiny", judge="viescore", overrides=["judge.mode=logits"])``;
        ``Judge.from_config(judge="score10", overrides=["backend=api", "api.base_url=http://localhost:8000/v1",
        "api.model=Qwen/Qwen3-VL-8B-Instruct", "api.key_env=null"])``.
        """
        cfg = cfg if cfg is not None else compose([f"model={model}", f"judge={judge}", *overrides])
        return cls(cfg, device=device)

    @property
    def criteria(self) -> list[str]:
        """The criteria each result holds (``score`` is always the overall one)."""
        return self.scheme.criteria

    @torch.inference_mode()
    def score(
        self,
        sources: Sequence,
        edits: Sequence,
        instructions: Sequence[str],
        ids: Sequence[str] | None = None,
        categories: Sequence[str | None] | None = None,
    ) -> list[dict]:
        """Score each (source, edit, instruction), in batches of ``data.batch_size``.

        Images are PIL images, CHW tensors (float in [0, 1] or uint8) or HWC arrays. Returns one dict per input,
        in input order: ``id``, ``score`` (the overall, or None with ``error``), every criterion of the scheme,
        the judge's reply (``response``, or ``response.<judgement>``) and in logit mode the confidences.
        """
        n = len(instructions)
        if not len(sources) == len(edits) == n:
            raise ValueError(f"{len(sources)} sources, {len(edits)} edits and {n} instructions")
        ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(n)]
        categories = categories or [None] * n
        items = [
            {
                "sample": Sample(
                    id=ids[i], source="", edited="", instruction=str(instructions[i]), category=categories[i]
                ),
                "source": to_pil(sources[i]),
                "edited": to_pil(edits[i]),
            }
            for i in range(n)
        ]
        _, missing = self.scheme.uncovered([it["sample"] for it in items])
        if missing:  # an official per-type prompt: it has nothing to ask for these
            raise ValueError(f"judge={self.scheme.name} has no prompt for the categories {sorted(missing)}")
        if self.module is None:
            return self._score_on_server(items)
        results = []
        for start in range(0, n, self.batch_size):
            batch = self.collate(items[start : start + self.batch_size])
            batch = self.module.transfer_batch_to_device(batch, self.device, 0)
            rows = self.module.predict_step(batch, start // self.batch_size)
            results += [{k: v for k, v in r.items() if k != "rank"} for r in rows]
        return results

    def _score_on_server(self, items: list[dict]) -> list[dict]:
        """``backend=api``: every item through the server(s), the images sent as lossless encodings."""
        from evaluator.judge.server import RemoteJudge
        from evaluator.judge.server_images import encoded_url

        api = self.cfg.api
        pixels = self.cfg.data.max_pixels
        by_sample = {id(it["sample"]): it for it in items}  # ids may repeat: the sample object itself is the key

        def images(sample) -> dict[str, str]:
            item = by_sample[id(sample)]
            return {role: encoded_url(item[role], pixels, api.image_format) for role in sample.images}

        judge = RemoteJudge(api, self.scheme, [it["sample"] for it in items], images, int(self.cfg.seed))
        rows = judge.score(lambda row: None)
        rows.sort(key=lambda r: r["index"])
        return [{k: v for k, v in r.items() if k not in ("rank", "index")} for r in rows]
