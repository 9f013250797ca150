"""The arena: editors of increasing brightness, judged by a server that prefers the brighter edit, rank in that order."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from evaluator.config.checks import check_arena
from evaluator.config.compose import compose
from evaluator.judge.stage import run
from evaluator.runtime.errors import ConfigError

from ..api_server import Server
from ..conftest import REPO, cli_env, read_jsonl
from .test_pairwise import brighter, first_shown

IDS = 12


def make_editors(folder, levels: dict[str, int]) -> dict[str, str]:
    """One manifest per editor; editor NAME's edit of every id is a gray image of brightness ``levels[NAME]``,
    nudged per id so that no two edits are alike."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), (128, 128, 128)).save(folder / "source.png")
    manifests = {}
    for name, level in levels.items():
        rows = []
        for i in range(IDS):
            Image.new("RGB", (32, 32), (level + i,) * 3).save(folder / f"{name}-{i}.png")
            rows.append({"id": f"s{i}", "source": "source.png", "edited": f"{name}-{i}.png",
                         "instruction": f"Edit number {i}.", "category": "c"})  # fmt: skip
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        manifests[name] = str(path)
    return manifests


def _arena(server, editors: dict[str, str], out, *extra) -> list[str]:
    return ["backend=api", f"api.base_url={server.url}", "api.model=m", "api.key_env=null", "report=false",
            f"out_dir={out}", *(f"arena.editors.{k}={v}" for k, v in editors.items()), *extra]  # fmt: skip


def test_editors_of_increasing_brightness_rank_in_that_order_with_intervals(tmp_path):
    editors = make_editors(tmp_path / "data", {"dim": 40, "mid": 90, "bright": 140, "brightest": 190})
    out = tmp_path / "out"
    with Server(judge=brighter) as server:
        run(compose(_arena(server, editors, out), config_name="arena"))
        assert len(server.texts) == 2 * 6 * IDS  # every pair of 4 editors on every id, once per order
        run(compose(_arena(server, editors, out), config_name="arena"))
        assert len(server.texts) == 2 * 6 * IDS  # a rerun asks nothing again
        shutil.copytree(out / "shards", out / "genarena" / "shards")  # GenArena's anchor: the same verdicts
        run(compose(_arena(server, editors, out / "genarena", "arena.anchor=mean_strength"), config_name="arena"))
        assert len(server.texts) == 2 * 6 * IDS
    ratings = json.loads((out / "ratings.json").read_text())
    assert list(ratings["editors"]) == ["brightest", "bright", "mid", "dim"]
    values = [e["rating"] for e in ratings["editors"].values()]
    assert all(e["ci95"][0] <= e["rating"] <= e["ci95"][1] for e in ratings["editors"].values())
    assert values == sorted(values, reverse=True) and len(set(values)) == 4
    assert ratings["editors"]["brightest"] | {"rating": 0, "ci95": 0} == {
        "rating": 0, "ci95": 0, "wins": 3 * IDS, "losses": 0, "ties": 0}  # fmt: skip
    assert ratings["win_rate"]["brightest"]["dim"] == 1.0 and ratings["pairs"] == 6 * IDS
    pairs = read_jsonl(out / "pairs.jsonl")
    assert {(p["editor_a"], p["editor_b"]) for p in pairs} == {
        ("bright", "brightest"), ("bright", "dim"), ("bright", "mid"), ("brightest", "dim"), ("brightest", "mid"),
        ("dim", "mid")}  # fmt: skip
    assert "## Arena (72 pairs, 0 without a verdict)" in (out / "summary.md").read_text()
    from evaluator.results import report

    html = report.build(out)[-1].read_text()
    assert 'id="arena"' in html and "<td>brightest</td>" in html and "bright vs brightest" in html
    assert html.count('alt="A"') == 50  # the first 50 example pairs, each with both edits
    genarena = json.loads((out / "genarena" / "ratings.json").read_text())
    assert genarena["anchor"] == "mean_strength" and ratings["anchor"] == "mean_rating"
    shifts = {round(genarena["editors"][n]["rating"] - e["rating"], 1) for n, e in ratings["editors"].items()}
    assert len(shifts) == 1 and shifts.pop() < 0


def test_answers_that_disagree_between_orders_are_ties_and_max_pairs_samples(tmp_path):
    editors = make_editors(tmp_path / "data", {"a": 40, "b": 90, "c": 140})
    out = tmp_path / "out"
    with Server(judge=first_shown) as server:
        run(compose(_arena(server, editors, out, "arena.max_pairs=10"), config_name="arena"))
        assert len(server.texts) == 2 * 10
    ratings = json.loads((out / "ratings.json").read_text())
    assert ratings["pairs"] == 10 and sum(e["ties"] for e in ratings["editors"].values()) == 2 * 10
    assert {e["rating"] for e in ratings["editors"].values()} == {1000.0}


def test_an_arena_of_one_editor_or_with_a_pointwise_judge_is_one_line(tmp_path):
    editors = make_editors(tmp_path / "data", {"a": 40, "b": 90})
    with pytest.raises(ConfigError, match="two or more editors"):
        check_arena(compose([f"arena.editors.a={editors['a']}", "model=tiny"], config_name="arena"))
    args = [f"arena.editors.{k}={v}" for k, v in editors.items()]
    with pytest.raises(ConfigError, match="needs a pairwise judge"):
        check_arena(compose([*args, "model=tiny", "judge=score10"], config_name="arena"))
    broken = tmp_path / "other.jsonl"
    broken.write_text('{"key": 1, "src": "a.png"}\n')
    with pytest.raises(ConfigError, match="editor c's manifest needs id, source, edited, instruction"):
        check_arena(compose([*args, f"arena.editors.c={broken}", "model=tiny"], config_name="arena"))


def test_the_arena_command_answers_help_and_refuses_a_mistake_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "evaluator.arena", "--help"], cwd=REPO, env=cli_env(),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.startswith("evaluator.arena: rank editors")
    proc = subprocess.run([sys.executable, "-m", "evaluator.arena", "model=tiny", "arena.editors.only=x.jsonl"],
                          cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "an arena ranks two or more editors" in proc.stderr


def test_an_arena_of_gedit_results_folders_pairs_the_keys_both_editors_have(tmp_path):
    import shutil

    from ..fixtures import make_gedit

    gedit = make_gedit(tmp_path / "g")  # editor "mymodel" has no edit for g2/en
    results = tmp_path / "g" / "results"
    shutil.copytree(results / "mymodel", results / "other")
    for png in (results / "other").rglob("*.png"):
        Image.new("RGB", (32, 32), (250, 250, 250)).save(png)
    Image.new("RGB", (32, 32), (250, 250, 250)).save(
        results / "other" / "fullset" / "background_change" / "en" / "g2.png"
    )
    out = tmp_path / "out"
    with Server(judge=brighter) as server:
        run(compose(_arena(server, {"mymodel": results, "other": results}, out, "arena.layout=gedit",
                           f"arena.metadata={gedit['metadata']}"), config_name="arena"))  # fmt: skip
        assert len(server.texts) == 2 * 4
    ratings = json.loads((out / "ratings.json").read_text())
    assert ratings["editors"]["other"]["wins"] == 4 and ratings["pairs"] == 4
    assert sorted(p["sample_id"] for p in read_jsonl(out / "pairs.jsonl")) == ["g0/cn", "g0/en", "g1/cn", "g1/en"]


def test_two_editors_rows_of_one_id_must_show_the_same_source(tmp_path):
    from omegaconf import OmegaConf

    from evaluator.inputs.arena import read_arena
    from evaluator.inputs.manifest import read_manifest
    from evaluator.inputs.readers import Loaded

    editors = make_editors(tmp_path / "data", {"a": 40, "b": 90})
    source = (tmp_path / "data" / "source.png").read_bytes()
    (tmp_path / "data" / "copy.png").write_bytes(source)  # the same bytes under another name: the same source
    Image.new("RGB", (32, 32), (0, 0, 0)).save(tmp_path / "data" / "other.png")
    rows = [json.loads(line) for line in Path(editors["b"]).read_text().splitlines()]
    rows[0]["source"], rows[1]["source"], rows[2]["instruction"] = "copy.png", "other.png", "Something else."
    with open(editors["b"], "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    cfg = OmegaConf.create({"editors": editors, "max_pairs": None, "seed": 0})
    samples, problems = read_arena(cfg, lambda name, path: Loaded(*read_manifest(path)))
    assert [(p.id, p.kind.name) for p in problems] == [("s1:a-vs-b", "BAD_VALUE"), ("s2:a-vs-b", "BAD_VALUE")]
    assert len(samples) == 2 * (IDS - 2) and samples[0].id == "s0:a-vs-b#AB"


@pytest.mark.slow
def test_the_arena_runs_the_tiny_local_judge_under_torchrun(tmp_path):
    from ..conftest import assert_ok, run_cli

    editors = make_editors(tmp_path / "data", {"a": 40, "b": 90, "c": 140})
    out = tmp_path / "out"
    args = [f"arena.editors.{k}={v}" for k, v in editors.items()]
    proc = run_cli([*args, "model=tiny", "judge.mode=logits", "trainer=cpu", "data.num_workers=0", "report=false",
                    "arena.max_pairs=8", f"out_dir={out}"], nproc=2, module="evaluator.arena")  # fmt: skip
    assert_ok(proc)
    rows = read_jsonl(out / "results.jsonl")
    assert len(rows) == 16 and {r["rank"] for r in rows} == {0, 1}  # 8 pairs, both orders, over both ranks
    ratings = json.loads((out / "ratings.json").read_text())
    assert set(ratings["editors"]) == {"a", "b", "c"} and ratings["pairs"] == 8
    assert all(0 <= p["p_a"] <= 1 for p in read_jsonl(out / "pairs.jsonl"))
