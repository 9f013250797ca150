"""RISEBench judged end to end against a test server: its tables as its gpt_eval.py computes them, our intervals,
and the export its script reads; with a checkout of RISEBench (``EVALUATOR_RISEBENCH_SOURCE``), the prompts and
images each item is asked equal its script's, and its own statistics on our export equal our tables."""

import csv
import importlib.util
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evaluator.config.compose import compose
from evaluator.judge.stage import run
from evaluator.results.export import export
from evaluator.runtime.errors import ConfigError

from ..api_server import Server
from ..conftest import read_jsonl
from ..fixtures import RISEBENCH, make_risebench, risebench_reply

SOURCE = os.environ.get("EVALUATOR_RISEBENCH_SOURCE")
HAS_PANDAS = all(importlib.util.find_spec(m) for m in ("pandas", "xlsxwriter", "requests"))
needs_source = pytest.mark.skipif(
    not (SOURCE and HAS_PANDAS),
    reason="EVALUATOR_RISEBENCH_SOURCE (a checkout of RISEBench) is not set, or pandas/xlsxwriter/requests missing",
)


def _judge(tmp_path, *extra) -> Path:
    layout = make_risebench(tmp_path)
    out = tmp_path / "run"
    with Server(content=risebench_reply) as server:
        run(compose(["backend=api", f"api.base_url={server.url}", "api.model=m", "api.key_env=null", "report=false",
                     "data=risebench", f"data.metadata={layout['metadata']}", f"data.outputs={layout['outputs']}",
                     f"out_dir={out}", "judge=risebench", *extra]))  # fmt: skip
    return out


def test_the_tables_follow_its_arithmetic_and_count_what_they_leave_out(tmp_path):
    out = _judge(tmp_path)
    rows = {r["id"]: r for r in read_jsonl(out / "results.jsonl")}
    assert rows["causal_reasoning_2"]["score"] == 1.0  # 0.2 * 5 + 0.8 * 1, halved, floored at 1
    assert rows["logical_reasoning_2"]["ApprConsistency"] == 1.0 and rows["logical_reasoning_2"]["score"] == 3.8
    assert "consistency is weighed but not asked" in rows["spatial_reasoning_3"]["error"]
    assert rows["temporal_reasoning_3"]["error"] == "missing edit"
    assert "response.VisualPlausibility" not in rows["logical_reasoning_1"] or not rows["logical_reasoning_1"].get(
        "response.VisualPlausibility"
    )
    h = json.loads((out / "summary.json").read_text())["headline"]
    assert h["protocol"] == "risebench" and h["n"] == 12 and h["missing_edits"] == 1 and h["unscored"] == 2
    table = h["table"]
    assert table["Overall"]["accuracy"] == 0.5  # 6 of 12 complete; the missing and the failed count as not
    assert table["Overall"]["score"] == pytest.approx((5 + 4.2 + 5 + 1 + 3.4 + 5 + 5 + 3.8 + 5) / 9)
    assert table["Spa-Object Arrangement"] == {"score": None, "percent": None, "accuracy": 1.0}
    assert table["Logical_Consistency"]["score"] == pytest.approx((5 + 1 + 5) / 3)
    assert "Logical_Quality" not in table and h["subtasks_left_out"] == ["Made-up Subtask"]
    low, high = h["figures"]["Overall/accuracy"]["ci95"]
    assert low < 0.5 < high
    scheme = json.loads((out / "summary.json").read_text())["scheme"]
    assert scheme["protocol"]["script"].startswith("gpt_eval.py of commit ce8cba3")
    summary = (out / "summary.md").read_text()
    assert (
        "## Headline (RISEBench protocol)" in summary and "| Temp-Life Progression | 5.000 | 100.0 | 0.500 |" in summary
    )


def test_a_rerun_asks_again_only_the_item_whose_reference_changed(tmp_path):
    layout = make_risebench(tmp_path)
    meta = Path(layout["metadata"])
    with Server(content=risebench_reply) as server:
        args = ["backend=api", f"api.base_url={server.url}", "api.model=m", "api.key_env=null", "report=false",
                "data=risebench", f"data.metadata={meta}", f"data.outputs={layout['outputs']}",
                f"out_dir={tmp_path / 'run'}", "judge=risebench"]  # fmt: skip
        run(compose(args))
        first = len(server.texts)
        items = json.loads(meta.read_text())
        items[0]["reference"] = "A very old tree [s2]."  # reaches only its reasoning prompt
        meta.write_text(json.dumps(items))
        run(compose(args))
        again = server.texts[first:]
    assert first == 28 and len(again) == 3 and sum("A very old tree" in t for t in again) == 1
    row = {r["id"]: r for r in read_jsonl(tmp_path / "run" / "results.jsonl")}["temporal_reasoning_1"]
    assert "A very old tree" in row["reference"]


def test_the_export_is_its_scripts_resume_file(tmp_path):
    out = _judge(tmp_path)
    [path] = export(out, "risebench", tmp_path / "outputs" / "editor-judged")
    assert path.name == "editor-judged.pkl"
    judged = pickle.loads(path.read_bytes())
    assert len(judged) == len(RISEBENCH)
    assert judged["causal_reasoning_1"]["judge1"] is None and "Final Score" in judged["causal_reasoning_1"]["judge2"]
    assert set(judged["logical_reasoning_1"]) == {"judge1", "judge2"}  # no third judgement, not even empty
    assert judged["temporal_reasoning_3"] == {"judge1": "", "judge2": "", "judge3": ""}  # its script: failed


def test_a_per_item_scheme_on_other_data_or_a_mistyped_outputs_folder_ends_in_one_line(tmp_path):
    api = ["backend=api", "api.base_url=http://127.0.0.1:9", "api.model=m", "api.key_env=null", f"out_dir={tmp_path}"]
    with pytest.raises(
        ConfigError, match="asks each item what its benchmark's scripts ask it; it reads data=risebench"
    ):
        run(compose(["data=demo", "judge=risebench", *api]))
    layout = make_risebench(tmp_path)
    with pytest.raises(ConfigError, match=r"data\.outputs=.*/outputs/editorr is no folder"):
        run(compose(["data=risebench", f"data.metadata={layout['metadata']}", f"data.outputs={layout['outputs']}r",
                     "judge=risebench", *api]))  # fmt: skip


def _official(tmp_path, *extra) -> Path:
    return _judge(tmp_path, "judge=risebench_official", f"judge.official_source={Path(SOURCE) / 'utils.py'}", *extra)


ASKED_BY_SCRIPT = """
import json, sys
import pandas as pd
import gpt_eval
asked = {}
def record(message, **kwargs):
    asked.setdefault(item_index, []).append(message)
    return 0, "Final Score: 5", None
gpt_eval.gpt_generate = record
data = pd.DataFrame(json.load(open(sys.argv[1])))
for i in range(len(data)):
    item = data.iloc[i]
    item_index = item["index"]
    try:
        gpt_eval.eval_vanilla(item, sys.argv[2], sys.argv[3])
    except FileNotFoundError:
        asked[item_index] = "no output"
print(json.dumps(asked))
"""


@needs_source
def test_each_item_is_asked_what_its_script_asks(tmp_path):
    out = _official(tmp_path, "dry_run=true")
    data, outputs = tmp_path / "data", tmp_path / "outputs" / "editor"
    proc = subprocess.run([sys.executable, "-c", ASKED_BY_SCRIPT, str(data / "datav2.json"), str(data), str(outputs)],
                          cwd=SOURCE, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    ours: dict[str, list] = {}
    for record in read_jsonl(out / "prompts.jsonl"):
        parts = record["messages"][-1]["content"]
        ours.setdefault(record["id"], []).append(
            [("text", p["text"]) if p["type"] == "text" else ("image", str(Path(p["path"]).resolve())) for p in parts]
        )
    assert theirs.pop("temporal_reasoning_3") == "no output" and "temporal_reasoning_3" not in ours
    assert set(theirs) == set(ours)
    for index, messages in theirs.items():
        expected = [[("text", m["value"]) if m["type"] == "text" else ("image", str(Path(m["value"]).resolve()))
                     for m in message] for message in messages]  # fmt: skip
        assert ours[index] == expected, index


@needs_source
def test_its_own_statistics_on_our_export_equal_our_tables(tmp_path):
    out = _official(tmp_path)
    target = tmp_path / "outputs" / "judged"
    export(out, "risebench", target)
    script = tmp_path / "script"
    script.mkdir()
    for name in ("gpt_eval.py", "utils.py"):
        shutil.copy(Path(SOURCE) / name, script / name)
    data = tmp_path / "data"
    proc = subprocess.run([sys.executable, "gpt_eval.py", "--data", str(data / "datav2.json"), "--output",
                           str(target), "--input", str(data)], cwd=script, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(target / "judged_judge.csv", newline="") as f:
        theirs = {r["-"]: r for r in csv.DictReader(f)}
    ours = json.loads((out / "summary.json").read_text())["headline"]["table"]
    assert list(theirs) == list(ours)
    for name, line in ours.items():
        for column, key in (("Score-Origin", "score"), ("Score-Percentage", "percent"), ("Accuracy", "accuracy")):
            value = float(theirs[name][column]) if theirs[name][column] else math.nan
            assert (math.isnan(value) and line[key] is None) or value == pytest.approx(line[key]), (name, column)
