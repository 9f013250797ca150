"""A user's config mistakes: each ends before any model loads, in one line and exit code 2, without a traceback."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evaluator.config.checks import has_gpu
from evaluator.config.compose import compose, conf_dir

from ..conftest import REPO, cli_env

# Runs the entry point in one process and reports what it imported: a mistake must not wait for torch.
PROBE = """
import sys
sys.argv = ["evaluator", *sys.argv[1:]]
code = 0
try:
    from evaluator.__main__ import main
    main()
except SystemExit as e:
    code = e.code
heavy = [m for m in ("torch", "lightning", "transformers") if m in sys.modules]
print("PROBE", code, ",".join(heavy) or "-")
"""


def _probe(*args: str, cwd: Path = REPO) -> tuple[int, str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=120
    )
    *_, last = proc.stdout.strip().splitlines()
    _, code, heavy = last.split()
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return int(code), heavy, lines


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["data.batchsize=4"], "unknown key data.batchsize; data has allow_outside_root, batch_size,"),
        (["data.batchsize=4"], "did you mean data.batch_size?"),
        (["data=manifest"], "data=manifest needs data.path=..."),
        (["data=gedit", "data.metadata=m.parquet"], "data=gedit needs data.results_root=... data.model_name=..."),
        (["data.batch_size=0"], "data.batch_size is a positive integer or auto, not 0"),
        (["data.batch_size=-3"], "data.batch_size is a positive integer or auto, not -3"),
        (["data.batch_size=big"], "data.batch_size is a positive integer or auto, not 'big'"),
        (["judge.mode=logit"], "judge.mode is one of generate, logits, not 'logit'; did you mean logits?"),
        (["model=qwen3_vl_9b"], "model=qwen3_vl_9b is not an option; model= is one of editscore_32b,"),
        (["data.max_pixels=lots"], "data.max_pixels: Value 'lots' of type 'str' could not be converted to Integer"),
        (["data.on_error=ignore"], "data.on_error is one of skip, fail, not 'ignore'"),
        (["trainer=cpu", "trainer.devices=64"], "trainer.devices=64 CPU processes exceed the"),
        (["model.name_or_path=tiny:qwen9"], "unknown tiny judge 'tiny:qwen9'; model.name_or_path takes tiny:qwen3_vl"),
    ],
)
def test_mistake_is_one_line_and_exit_2_before_anything_loads(args, expected):
    code, heavy, lines = _probe("model=tiny", *args)
    assert code == 2
    assert len(lines) == 1 and expected in lines[0], lines
    assert heavy == "-"  # answered before torch, Lightning or transformers were imported


@pytest.mark.skipif(has_gpu(), reason="this machine has a GPU")
def test_gpu_trainer_without_a_gpu():
    code, heavy, lines = _probe("model=tiny", "trainer=gpu")
    assert code == 2 and heavy == "-"
    assert lines == [lines[0]] and "trainer=gpu, but this machine shows no GPU; use trainer=cpu" in lines[0]


def test_out_dir_that_cannot_be_written(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    code, _, lines = _probe("model=tiny", f"out_dir={tmp_path}/file/run")
    assert code == 2 and len(lines) == 1
    assert f"out_dir={tmp_path}/file/run cannot be written" in lines[0]


def test_checkpoint_folder_of_another_model_type(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    code, _, lines = _probe(f"model.name_or_path={tmp_path}")
    assert code == 2 and len(lines) == 1
    assert "is a 'llama' checkpoint; the judge supports qwen3_vl" in lines[0]
    (tmp_path / "sub").mkdir()
    code, _, lines = _probe(f"model.name_or_path={tmp_path / 'sub'}")
    assert code == 2 and "is not a checkpoint folder (it has no config.json)" in lines[0]


def test_a_broken_scheme_is_caught_before_the_model(tmp_path):
    (tmp_path / "judge").mkdir()
    broken = (conf_dir() / "judge" / "score10.yaml").read_text().replace("report: [score]", "report: [scor]")
    (tmp_path / "judge" / "mine.yaml").write_text(broken)
    code, heavy, lines = _probe("model=tiny", f"hydra.searchpath=[file://{tmp_path}]", "judge=mine")
    assert code == 2 and heavy == "-"
    assert len(lines) == 1 and "judge=score10: report names unknown criteria ['scor']" in lines[0]


def test_help_is_the_projects_own_and_lists_every_option():
    code, heavy, _ = _probe("--help")
    assert code == 0 and heavy == "-"
    text = subprocess.run(
        [sys.executable, "-m", "evaluator", "--help"], cwd=REPO, env=cli_env(), capture_output=True, text=True
    ).stdout
    assert text.startswith("evaluator: score image edits")
    groups = text.split("Config groups")[1].split("Common keys")[0].splitlines()[1:]
    listed = {ln.split()[1] if ln.split()[0].endswith("=") else ln.split()[0] for ln in groups if ln.strip()}
    for group in ("model", "data", "judge", "trainer"):
        for option in sorted(p.stem for p in (conf_dir() / group).glob("*.yaml")):
            assert option in listed, (group, option)
    assert text.count("python -m evaluator") + text.count("torchrun") >= 3  # example commands


@pytest.mark.parametrize("tool", ["report", "compare"])
def test_report_and_compare_on_a_folder_that_is_not_a_run(tmp_path, tool):
    proc = subprocess.run(
        [sys.executable, "-m", f"evaluator.{tool}", str(tmp_path)],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    [line] = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert f"{tmp_path} is not a finished evaluator run" in line and "Traceback" not in proc.stderr


def test_presets_hold_only_what_differs_from_the_schema():
    from omegaconf import OmegaConf

    from evaluator.config import benchmark_data, schema

    schemas = {"model": schema.ModelConfig, "trainer": schema.TrainerConfig, "judge": schema.JudgeConfig,
               "editor": schema.EditorConfig, "manifest_schema": schema.ManifestData,
               "pairs_schema": schema.PairsData, "arena_schema": schema.ArenaData, **benchmark_data.SCHEMAS}  # fmt: skip
    presets = [
        p for group in ("model", "trainer", "judge", "editor", "data") for p in (conf_dir() / group).glob("*.yaml")
    ]
    assert {p.parent.name for p in presets} == {"model", "trainer", "judge", "editor", "data"}
    for path in presets:
        preset = OmegaConf.load(path)
        # A data preset's schema is the one its defaults list names (manifest_schema, gedit_schema, ...).
        group = path.parent.name
        node = schemas[next(d for d in preset.defaults if d != "_self_") if group == "data" else group]
        defaults = OmegaConf.structured(node)
        repeated = [
            k
            for k in preset
            if k != "defaults" and k in defaults and not OmegaConf.is_missing(preset, k) and preset[k] == defaults[k]
        ]
        assert repeated == [], (f"{path.parent.name}/{path.name}", repeated)


def test_compose_from_python_names_the_out_dir_after_the_choices():
    cfg = compose(["model=tiny", "judge=viescore"])
    assert cfg.out_dir == "outputs/demo/tiny-viescore"
    assert cfg.data.batch_size == 4 and cfg.judge.mode == "generate"  # defaults from the schema
