"""Everything specific to diffusers editing pipelines: loading one onto a rank's device, the keywords its call
takes, and building tiny random pipelines for tests.

diffusers is an optional dependency (the ``edit`` extra): nothing here imports it at module level,
and the judge never needs it.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import tempfile
import time
from pathlib import Path

from evaluator.config.hub import check_fetchable
from evaluator.runtime import tiny
from evaluator.runtime.errors import ConfigError, EditorUnavailable, first_line
from evaluator.runtime.logs import FILE_ONLY
from evaluator.runtime.tiny import TinyModels

log = logging.getLogger(__name__)

# "evaluator" is not on the package index: the extra works from a checkout or a wheel, diffusers itself anywhere.
INSTALL = 'the editing stage needs diffusers: pip install "diffusers>=0.42,<1" (a checkout: pip install -e ".[edit]")'

# Keywords the stage sets itself on every call; editor.call may not set them.
# return_dict too: the stage reads the images and the safety checker's flags from the pipeline's output object.
OWN_KEYWORDS = ("prompt", "image", "generator", "output_type", "height", "width", "num_images_per_prompt",
                "return_dict")  # fmt: skip

# A tiny InstructPix2Pix: a UNet that reads the source's latents beside the noise (8 input channels), a VAE that
# halves each side, and a CLIP text encoder over a byte-level vocabulary of single characters.
TINY_EDITOR_SPECS: dict[str, dict] = {
    "instruct_pix2pix": {
        "unet": {
            "block_out_channels": [16, 32],
            "layers_per_block": 1,
            "sample_size": 16,
            "in_channels": 8,
            "out_channels": 4,
            "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
            "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
            "cross_attention_dim": 32,
            "attention_head_dim": 4,
            "norm_num_groups": 8,
        },
        "vae": {
            "block_out_channels": [16, 32],
            "in_channels": 3,
            "out_channels": 3,
            "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
            "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
            "latent_channels": 4,
            "norm_num_groups": 8,
            "layers_per_block": 1,
        },
        "text": {
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "max_position_embeddings": 77,
            "projection_dim": 32,
        },
    }
}


def require() -> None:
    """Raises: ConfigError saying how to install diffusers, where it is missing."""
    if importlib.util.find_spec("diffusers") is None:
        raise ConfigError(INSTALL)


def build_tiny_editor(spec: dict, folder: Path) -> None:
    """Write a tiny random InstructPix2Pix pipeline to ``folder`` with ``save_pretrained`` (safetensors)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInstructPix2PixPipeline, UNet2DConditionModel
    from tokenizers import pre_tokenizers
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    torch.manual_seed(0)
    # CLIP's vocabulary, reduced to its two special tokens and one token per byte-level character, with and without
    # the end-of-word mark: every text tokenizes, one character a token.
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update(
        {ch + end: len(vocab) + i for i, (end, ch) in enumerate((e, c) for e in ("", "</w>") for c in alphabet)}
    )
    with tempfile.TemporaryDirectory() as words:
        (Path(words) / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        (Path(words) / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
        tokenizer = CLIPTokenizer(f"{words}/vocab.json", f"{words}/merges.txt", model_max_length=77)
    text = CLIPTextModel(
        CLIPTextConfig(**spec["text"], vocab_size=len(vocab), bos_token_id=0, eos_token_id=1, pad_token_id=1)
    )
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=AutoencoderKL(**spec["vae"]),
        text_encoder=text,
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(**spec["unet"]),
        # Deterministic steps: with a seeded start, an edit depends on nothing else.
        scheduler=DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)


TINY_EDITORS = TinyModels("editor", "editor", TINY_EDITOR_SPECS, build_tiny_editor, "model_index.json")


def _path(editor_cfg) -> str:
    return TINY_EDITORS.resolve(editor_cfg.name_or_path)


def pipeline_class(path: str | Path, editor_cfg=None):
    """The diffusers pipeline class a checkpoint names in its ``model_index.json`` (read without any weights).

    Raises:
        EditorUnavailable: the index cannot be read; ConfigError: it names no diffusers pipeline.
    """
    import diffusers

    try:
        index = diffusers.DiffusionPipeline.load_config(
            str(path),
            revision=getattr(editor_cfg, "revision", None),
            local_files_only=bool(getattr(editor_cfg, "local_files_only", False)),
        )
    except (OSError, ValueError) as e:
        raise _unavailable(str(path), e) from None
    name = index.get("_class_name")
    cls = getattr(diffusers, str(name), None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, diffusers.DiffusionPipeline):
        raise ConfigError(f"editor.name_or_path={path} names {name!r}, which is no diffusers pipeline")
    return cls


def call_keywords(cls, editor_cfg) -> dict:
    """The keywords every call of ``cls`` gets from the editor's settings (besides prompt, image, generator and
    size, which the stage sets per batch).

    Raises:
        ConfigError: a key of ``editor.call`` that the pipeline's ``__call__`` does not name.
    """
    parameters = inspect.signature(cls.__call__).parameters
    named = {n for n, p in parameters.items() if p.kind is not p.VAR_KEYWORD}
    wanted = {"num_inference_steps": int(editor_cfg.num_inference_steps)}
    if editor_cfg.guidance_scale is not None:
        wanted["guidance_scale"] = float(editor_cfg.guidance_scale)
    extra = dict(editor_cfg.call or {})
    own = sorted(k for k in extra if k in OWN_KEYWORDS)
    if own:
        raise ConfigError(f"editor.call.{own[0]} is set by the editing stage itself; remove it")
    wanted.update(extra)
    unknown = sorted(k for k in wanted if k not in named)
    if unknown:
        takes = ", ".join(sorted(named - {"self", *OWN_KEYWORDS}))
        raise ConfigError(f"{cls.__name__} takes no {unknown[0]!r} (editor.call.{unknown[0]}); it takes {takes}")
    for key, value in extra.items():
        _check_type(cls, key, value, parameters[key].default)
    return wanted


def _check_type(cls, key: str, value, default) -> None:
    """A value of the kind the keyword's default has (a number for a number, a flag for a flag, text for text), so
    a wrong type stops the run before the weights load instead of inside the first call.

    Raises:
        ConfigError: naming the key, the value and the kind the pipeline takes.
    """
    if default is inspect.Parameter.empty or default is None or value is None:
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = number and float(value).is_integer(), "an integer"
    elif isinstance(default, float):
        ok, kind = number, "a number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    else:
        return
    if not ok:
        raise ConfigError(f"editor.call.{key}={value!r}: {cls.__name__} takes {kind} there (its default: {default!r})")


def takes_size(cls) -> bool:
    """Whether ``cls`` is told the output size (``height``, ``width``); InstructPix2Pix keeps its input's size."""
    return {"height", "width"} <= set(inspect.signature(cls.__call__).parameters)


def check_checkpoint(editor_cfg) -> None:
    """Before anything loads: a tiny editor's name is known; a local folder is a pipeline whose call takes the
    editor's keywords. A hub id is checked when it loads.

    Raises:
        ConfigError: with one line saying what to change.
    """
    name = str(editor_cfg.name_or_path)
    if name.startswith(tiny.PREFIX):
        if name.removeprefix(tiny.PREFIX) not in TINY_EDITOR_SPECS:
            known = ", ".join(f"tiny:{n}" for n in TINY_EDITOR_SPECS)
            raise ConfigError(f"unknown tiny editor {name!r}; editor.name_or_path takes {known}")
        from diffusers import StableDiffusionInstructPix2PixPipeline

        call_keywords(StableDiffusionInstructPix2PixPipeline, editor_cfg)
        return
    path = Path(name).expanduser()
    if not path.exists():  # a hub id: in the cache, or the hub answers
        return check_fetchable(name, "editor.name_or_path", "model_index.json", editor_cfg.local_files_only)
    if not (path / "model_index.json").is_file():
        raise ConfigError(f"editor.name_or_path={path} is not a diffusers pipeline folder (it has no model_index.json)")
    call_keywords(pipeline_class(path, editor_cfg), editor_cfg)


def load_pipeline(editor_cfg, device):
    """The editing pipeline, every component on ``device``, in eval mode, its progress bars off.

    On a GPU the weights are read from safetensors straight onto this rank's device: six ranks of a 58 GB editor
    would otherwise hold six copies in host memory first.
    """
    import torch
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()  # one bar per rank per component is noise; the load time is logged
    transformers_logging.disable_progress_bar()
    path = _path(editor_cfg)
    cls = pipeline_class(path, editor_cfg)
    call_keywords(cls, editor_cfg)  # a wrong key stops the run before the weights load
    placement = {}
    if device.type == "cuda":
        torch.cuda.set_device(device)  # diffusers' "cuda" placement means the current device: this rank's
        placement["device_map"] = "cuda"
    start = time.perf_counter()
    try:
        pipe = cls.from_pretrained(
            path,
            dtype=getattr(torch, editor_cfg.dtype),
            revision=editor_cfg.revision or None,
            variant=editor_cfg.variant or None,
            local_files_only=editor_cfg.local_files_only,
            use_safetensors=True,
            **placement,
        )
    except (OSError, ValueError) as e:
        raise _unavailable(editor_cfg.name_or_path, e) from e
    if not placement:
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    seconds = time.perf_counter() - start
    log.info("loaded editor %s (%s, %s) on %s in %.1fs", editor_cfg.name_or_path, cls.__name__, editor_cfg.dtype,
             device, seconds, extra=FILE_ONLY)  # fmt: skip
    return pipe


def _unavailable(name: str, err: Exception) -> EditorUnavailable:
    first = first_line(err)
    return EditorUnavailable(
        f"cannot load editor {name!r} ({first}); it is neither a local diffusers pipeline folder nor in the Hugging "
        "Face cache, and the hub could not be reached (a gated model also needs its licence accepted and a login). "
        "For an offline smoke run use editor=tiny."
    )
