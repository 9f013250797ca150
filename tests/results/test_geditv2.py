"""GEditBench v2 judged end to end against a test server: its Elo leaderboard from the run's verdicts (ties and
failures left out, as its evaluation leaves them out), the export its elo_score.py reads and, with a checkout of it
(``EVALUATOR_GEDITV2_SOURCE``), that script's leaderboard on our export equal to ours."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from evaluator.config.compose import compose
from evaluator.judge.stage import run
from evaluator.results.export import export
from evaluator.results.geditv2 import elo_leaderboard
from evaluator.runtime.errors import ConfigError

from ..api_server import Server
from ..conftest import read_jsonl
from ..fixtures import GEDITV2_EDITORS, geditv2_reply, make_geditv2

SOURCE = os.environ.get("EVALUATOR_GEDITV2_SOURCE")
DIMENSIONS = ["visual_consistency", "visual_quality", "instruction_following"]


def _judge(tmp_path, *extra) -> Path:
    keys = make_geditv2(tmp_path)
    out = tmp_path / "run"
    editors = ",".join(GEDITV2_EDITORS)
    with Server(judge=geditv2_reply) as server:
        run(compose(["backend=api", f"api.base_url={server.url}", "api.model=m", "api.key_env=null", "report=false",
                     "data=geditv2", f"data.metadata={keys['metadata']}", f"data.gallery={keys['gallery']}",
                     "data.min_outputs=1", f"data.editors=[{editors}]", "data.bootstrap=40", "judge=geditv2",
                     f"out_dir={out}", *extra]))  # fmt: skip
        # 48 pairs, 3 without an image, 3 questions each; one pair's replies hold no verdict: each asked 3 more times
        assert len(server.texts) == 45 * 3 + 3 * 3
    return out


def test_the_leaderboard_ranks_by_its_joint_elo_and_counts_what_it_leaves_out(tmp_path):
    out = _judge(tmp_path)
    h = json.loads((out / "summary.json").read_text())["headline"]
    assert h["protocol"] == "geditv2" and h["dimensions"] == DIMENSIONS
    assert [e["model"] for e in h["leaderboard"]] == list(GEDITV2_EDITORS)  # brighter is better, base levels rank
    assert all(e["ci95"][0] <= e["elo_exact"] <= e["ci95"][1] for e in h["leaderboard"])
    assert h["missing_edits"] == 3 and h["verdicts"]["visual_quality"]["tie"] > 0
    decisive = h["verdicts"]["visual_quality"]["A"] + h["verdicts"]["visual_quality"]["B"]
    assert sum(e["matches"] for e in h["leaderboard"]) == 2 * 3 * decisive  # each match counts for both editors
    assert round(sum(e["elo_exact"] for e in h["leaderboard"]) / 4) == 1000  # abilities centred on 1000
    assert "## Headline (GEditBench v2 protocol: Elo)" in (out / "summary.md").read_text()
    rows = read_jsonl(out / "results.jsonl")
    again = elo_leaderboard(rows, DIMENSIONS, OmegaConf.load(out / "config.yaml").data)
    assert again["leaderboard"] == h["leaderboard"]  # seeded: the same figures from the same verdicts
    from evaluator.results.report import build

    report = next(p for p in build(out) if p.name == "report.html").read_text()
    assert "Headline (GEditBench v2 protocol)" in report and "my-editor_v2" in report


def test_ties_and_failures_are_left_out_as_its_files_leave_them_out(tmp_path):
    out = _judge(tmp_path)
    paths = export(out, "geditv2", tmp_path / "export")
    assert [p.name for p in paths] == [f"{d}.jsonl" for d in DIMENSIONS]
    lines = read_jsonl(paths[0])
    rows = {r["id"]: r for r in read_jsonl(out / "results.jsonl")}
    assert {line["results"]["winner"] for line in lines} == {"Image A", "Image B"}
    assert len(lines) == sum(1 for r in rows.values() if r.get("visual_consistency") in (0.0, 1.0))
    assert all(re.fullmatch(r"[\w-]+_\d{6}_pair_.+_vs_.+", line["key"]) for line in lines)


def test_a_pointwise_judge_on_its_pairs_ends_in_one_line(tmp_path):
    keys = make_geditv2(tmp_path)
    with pytest.raises(ConfigError, match="data=geditv2 compares two editors' edits in one prompt"):
        run(compose(["data=geditv2", f"data.metadata={keys['metadata']}", f"data.gallery={keys['gallery']}",
                     "judge=score10", "backend=api", "api.base_url=http://127.0.0.1:9", "api.model=m",
                     "api.key_env=null", f"out_dir={tmp_path / 'run'}"]))  # fmt: skip


@pytest.mark.skipif(
    not (SOURCE and importlib.util.find_spec("pandas")),
    reason="EVALUATOR_GEDITV2_SOURCE (a checkout of GEditBench_v2) is not set, or pandas is missing",
)
def test_its_elo_script_on_our_export_prints_our_leaderboard(tmp_path):
    out = _judge(tmp_path)
    files = ",".join(str(p) for p in export(out, "geditv2", tmp_path / "export"))
    script = Path(SOURCE) / "src" / "common_utils" / "elo_score.py"
    proc = subprocess.run([sys.executable, str(script), "--result-files", files, "--bootstrap", "40", "--alpha", "1",
                           "--dimension-weighting", "balanced", "--seed", "42"], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = re.findall(r"^\d+\s+\|\s+(\S+)\s+\|\s+(\d+)\s+\|\s+(\S+)$", proc.stdout, flags=re.M)
    ours = json.loads((out / "summary.json").read_text())["headline"]
    assert printed == [(e["model"], str(e["elo"]), e["ci_string"]) for e in ours["leaderboard"]]
    nus = dict(re.findall(r"^(\S+)\.jsonl\s+\|\s+nu=(\S+)$", proc.stdout, flags=re.M))
    assert nus == {d: f"{nu:.6f}" for d, nu in ours["tie_nu"].items()}
