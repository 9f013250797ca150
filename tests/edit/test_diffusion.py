"""diffusers pipelines: the presets against the pipelines they name, call keywords, checkpoints, the tiny editor."""

import json

import diffusers
import pytest

from evaluator.config.compose import compose, conf_dir
from evaluator.edit import diffusion
from evaluator.edit.checks import check_edit
from evaluator.edit.diffusion import TINY_EDITORS
from evaluator.runtime.errors import ConfigError

# The pipeline class each preset's checkpoint names in its model_index.json (from the hub pages).
PRESETS = {
    "qwen_image_edit": "QwenImageEditPipeline",
    "flux_kontext": "FluxKontextPipeline",
    "instruct_pix2pix": "StableDiffusionInstructPix2PixPipeline",
    "tiny": "StableDiffusionInstructPix2PixPipeline",
}


def test_every_preset_is_listed_here():
    assert sorted(p.stem for p in (conf_dir() / "editor").glob("*.yaml")) == sorted(PRESETS)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_preset_calls_its_pipeline_with_keywords_it_takes(preset):
    editor = compose([f"editor={preset}"], "edit").editor
    cls = getattr(diffusers, PRESETS[preset])
    keywords = diffusion.call_keywords(cls, editor)
    assert keywords["num_inference_steps"] == editor.num_inference_steps
    assert editor.resolution % editor.multiple_of == 0
    # Pipelines that are told the output size get the planned one; InstructPix2Pix keeps its input's.
    assert diffusion.takes_size(cls) == (preset in ("qwen_image_edit", "flux_kontext"))


def test_a_key_the_pipeline_does_not_take_is_one_line():
    editor = compose(["editor=tiny", "+editor.call.true_cfg_scale=4.0"], "edit").editor
    with pytest.raises(ConfigError, match=r"StableDiffusionInstructPix2PixPipeline takes no 'true_cfg_scale'"):
        diffusion.call_keywords(diffusers.StableDiffusionInstructPix2PixPipeline, editor)
    with pytest.raises(ConfigError, match=r"takes no 'true_cfg_scale' \(editor\.call\.true_cfg_scale\)"):
        check_edit(compose(["editor=tiny", "+editor.call.true_cfg_scale=4"], "edit"))  # before any weights load
    editor = compose(["editor=tiny", "+editor.call.generator=1"], "edit").editor
    with pytest.raises(ConfigError, match=r"editor\.call\.generator is set by the editing stage itself"):
        diffusion.call_keywords(diffusers.StableDiffusionInstructPix2PixPipeline, editor)


def test_checkpoints_are_checked_before_loading(tmp_path):
    editor = compose(["editor=tiny", f"editor.name_or_path={tmp_path}"], "edit").editor
    with pytest.raises(ConfigError, match="is not a diffusers pipeline folder"):
        diffusion.check_checkpoint(editor)
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "NoSuchPipeline"}))
    with pytest.raises(ConfigError, match="names 'NoSuchPipeline', which is no diffusers pipeline"):
        diffusion.check_checkpoint(editor)
    with pytest.raises(ConfigError, match="unknown tiny editor 'tiny:sd9'"):
        diffusion.check_checkpoint(compose(["editor=tiny", "editor.name_or_path=tiny:sd9"], "edit").editor)


def test_without_diffusers_the_stage_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(diffusion.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r'pip install "diffusers>=0\.42,<1"'):
        diffusion.require()


def test_the_tiny_editor_is_a_saved_pipeline_loaded_like_a_real_one():
    import torch

    folder = TINY_EDITORS.ensure_built("instruct_pix2pix")  # into the session's cache, for the later tests
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionInstructPix2PixPipeline"
    assert list(folder.rglob("*.safetensors")) and not list(folder.rglob("*.bin"))
    editor = compose(["editor=tiny", f"editor.name_or_path={folder}"], "edit").editor
    diffusion.check_checkpoint(editor)
    pipe = diffusion.load_pipeline(editor, torch.device("cpu"))
    assert pipe.unet.dtype == torch.float64 and pipe.unet.config.in_channels == 8
