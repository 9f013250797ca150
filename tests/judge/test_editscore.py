"""EditScore's protocol (judge=editscore, judge=editscore_official) on EditScore's set: 0-25 answers reported on
0-10, each pair decided by its dimension's score, each edit judged once however many dimensions list it, and the
headline as EditScore's statistics script computes it."""

import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from evaluator.config.compose import compose
from evaluator.inputs.human_labels import convert_editscore_bench
from evaluator.judge.stage import run
from evaluator.runtime.errors import ConfigError

from ..api_server import Server
from ..conftest import read_jsonl

EDITSCORE = os.environ.get("EVALUATOR_EDITSCORE_SOURCE")


def _png(level: int) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (level,) * 3).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def editscore_set(path: Path) -> Path:
    """Four pairs (two task types), each under the three dimensions, as EditScore's parquet holds them."""
    rows = []
    for n, (task, first, second) in enumerate([("color_alter", 200, 100), ("color_alter", 60, 160),
                                               ("extract", 150, 150), ("extract", 250, 50)]):  # fmt: skip
        for dim in ("prompt_following", "consistency", "overall"):
            rows.append({"key": [f"k{n}a", f"k{n}b"], "instruction": f"Edit {n}.", "input_image": _png(10),
                         "output_images": [_png(first), _png(second)], "task_type": task, "dimension": dim})  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def by_brightness(text: str, brightness: list[float]) -> str:
    """SC (source and edit shown): prompt following grows with the edit's brightness, consistency falls; PQ: 20."""
    if len(brightness) == 2:
        follow = round(brightness[1] / 10)
        return json.dumps({"reasoning": "r", "prompt_following": follow, "consistency": 25 - follow})
    return json.dumps({"reasoning": "r", "naturalness": 20, "artifacts": 22})


def _args(server, pairs, out, *extra):
    return ["backend=api", f"api.base_url={server.url}", "api.model=m", "api.key_env=null", "report=false",
            "data=pairs", f"data.path={pairs}", "judge=editscore", f"out_dir={out}", *extra]  # fmt: skip


def test_each_dimension_is_decided_by_its_own_score_and_each_edit_judged_once(tmp_path):
    pairs = convert_editscore_bench(editscore_set(tmp_path / "es.parquet"), tmp_path / "converted")
    out = tmp_path / "out"
    with Server(judge=by_brightness) as server:
        run(compose(_args(server, pairs, out)))
        assert len(server.texts) == 7 * 2  # 7 distinct edits (k2's two are alike) x (SC, PQ), not 12 pairs x 2 x 2
    rows = {r["id"]: r for r in read_jsonl(out / "results.jsonl")}
    a = rows["k0a~k0b:prompt_following#A"]
    assert (a["prompt_following"], a["consistency"], a["PQ"]) == (8.0, 2.0, 8.0)  # 20/2.5, 5/2.5, min(20, 22)/2.5
    assert a["overall"] == pytest.approx((2.0 * 8.0) ** 0.5)
    assert rows["k0a~k0b:consistency#A"]["same_as"] == "k0a~k0b:prompt_following#A"
    verdicts = {p["id"]: p["winner"] for p in read_jsonl(out / "pairs.jsonl")}
    assert verdicts["k0a~k0b:prompt_following"] == "A" and verdicts["k0a~k0b:consistency"] == "B"
    assert verdicts["k1a~k1b:prompt_following"] == "B" and verdicts["k2a~k2b:overall"] == "tie"
    agreement = json.loads((out / "summary.json").read_text())["agreement"]
    editscore = agreement["as_published"]["editscore"]
    assert editscore["prompt_following"] == {"average": 0.5, "by_category": {"color_alter": 0.5, "extract": 0.5}}
    assert editscore["consistency"] == {"average": 0.25, "by_category": {"color_alter": 0.5, "extract": 0.0}}
    assert set(agreement["by_criterion"]) == {"prompt_following", "consistency", "overall"}
    assert json.loads((out / "summary.json").read_text())["api"]["requests"] == 14  # the copies asked nothing


def test_a_criterion_the_scheme_does_not_score_ends_in_one_line(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    row = {"id": "p", "source": "s.png", "instruction": "x", "edited_a": "a.png", "edited_b": "b.png", "human": "A"}
    for name, level in (("s.png", 10), ("a.png", 90), ("b.png", 140)):
        Image.new("RGB", (16, 16), (level,) * 3).save(tmp_path / name)
    pairs.write_text(json.dumps({**row, "criterion": "aesthetics"}) + "\n")
    with Server(judge=by_brightness) as server, pytest.raises(ConfigError, match="criterion column names aesthetics"):
        run(compose(_args(server, pairs, tmp_path / "out")))
    assert not server.texts


def test_a_self_ensemble_averages_each_replys_overall_as_editscore_does(tmp_path):
    from evaluator.scoring.parsing import Parsed
    from evaluator.scoring.rows import add_samples, new_parts, result_row
    from evaluator.scoring.schemes import Scheme

    scheme = Scheme.from_config(compose(["judge=editscore", "judge.samples=2"]).judge)
    parts = new_parts()
    add_samples(parts, "SC", ["x", "y"], [{"prompt_following": Parsed(25.0), "consistency": Parsed(25.0)},
                                          {"prompt_following": Parsed(5.0), "consistency": Parsed(5.0)}])  # fmt: skip
    add_samples(parts, "PQ", ["x", "y"], [{"naturalness": Parsed(25.0), "artifacts": Parsed(25.0)},
                                          {"naturalness": Parsed(25.0), "artifacts": Parsed(25.0)}])  # fmt: skip
    row = result_row(scheme, parts)
    # Reply 1: SC 10, PQ 10 -> 10; reply 2: SC 2, PQ 10 -> sqrt(20). Avg@2 = mean of those, not sqrt(6 * 10).
    assert row["overall"] == pytest.approx((10 + 20**0.5) / 2, abs=1e-6)
    assert row["prompt_following"] == 6.0 and row["prompt_following_samples"] == [10.0, 2.0]


@pytest.mark.skipif(not EDITSCORE, reason="EVALUATOR_EDITSCORE_SOURCE (a checkout of EditScore) is not set")
def test_the_official_wording_asks_on_0_to_25_and_reads_the_score_list(tmp_path):
    pairs = convert_editscore_bench(editscore_set(tmp_path / "es.parquet"), tmp_path / "converted")
    source = Path(EDITSCORE) / "editscore" / "vie_prompts.py"
    out = tmp_path / "out"
    with Server(content=lambda text: '{"reasoning": "fine", "score": [20, 15]}') as server:
        run(compose(_args(server, pairs, out, "judge=editscore_official", f"judge.official_source={source}")))
        asked = server.texts
    assert all("From scale 0 to 25" in t and "From scale 0 to 10" not in t for t in asked)
    assert any("Editing instruction: Edit 0." in t for t in asked)
    row = read_jsonl(out / "results.jsonl")[0]
    assert (row["prompt_following"], row["consistency"], row["PQ"]) == (8.0, 6.0, 6.0)
