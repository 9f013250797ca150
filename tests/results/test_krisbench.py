"""KRIS-Bench judged end to end against a test server: its tables as its summarize.py computes them, our intervals,
and the metrics.json its scripts write; with a copy of its scripts (``EVALUATOR_KRISBENCH_SOURCE``: the folder of
its metrics_*.py, prompts.py and summarize.py, as ByteDance-Seed/Bagel's eval/gen/kris), our prompts are its
prompts filled as its scripts fill them, and its own statistics on our export equal our tables."""

import importlib.util
import json
import os
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest

from evaluator.config.compose import compose
from evaluator.judge.stage import run
from evaluator.results.export import export
from evaluator.results.report import build

from ..api_server import Server
from ..conftest import read_jsonl
from ..fixtures import krisbench_reply, make_krisbench

SOURCE = os.environ.get("EVALUATOR_KRISBENCH_SOURCE")
needs_source = pytest.mark.skipif(not SOURCE, reason="EVALUATOR_KRISBENCH_SOURCE (its eval/gen/kris folder) is not set")


def _judge(tmp_path, *extra) -> Path:
    layout = make_krisbench(tmp_path)
    out = tmp_path / "run"
    with Server(content=krisbench_reply) as server:
        run(compose(["backend=api", f"api.base_url={server.url}", "api.model=m", "api.key_env=null", "report=false",
                     "data=krisbench", f"data.metadata={layout['metadata']}", f"data.outputs={layout['outputs']}",
                     f"out_dir={out}", "judge=krisbench", *extra]))  # fmt: skip
    return out


def _n(*scores):
    return sum((s - 1) * 25 for s in scores) / len(scores)


def test_the_tables_pool_normalised_scores_as_its_summarize_does(tmp_path):
    out = _judge(tmp_path)
    rows = {r["id"]: r for r in read_jsonl(out / "results.jsonl")}
    assert rows["physics/1"]["knowledge_score"] == 3.0 and rows["physics/1"]["score"] == 4.0
    assert rows["count_change/3"]["error"] == "missing edit"
    bad = rows["physics/2"]  # the reply its scripts would read a 1 from: no score, and out of every table
    assert bad["score"] is None and "unparseable" in bad["error"] and bad["quality_score"] == 4.0
    h = json.loads((out / "summary.json").read_text())["headline"]
    assert h["protocol"] == "krisbench" and h["n"] == 9 and h["missing_edits"] == 1 and h["unscored"] == 1
    summary, subitems = h["table"]["summary"], h["table"]["subitems"]
    assert summary["Attribute Perception"]["IF"] == pytest.approx(_n(5, 2, 4))
    assert summary["Attribute Perception"]["AVG"] == pytest.approx(_n(5, 5, 4, 3, 2, 4, 4, 4, 4))
    assert summary["Natural Science"] == {"VC": 100.0, "VQ": 75.0, "IF": 75.0, "KP": 50.0, "AVG": 75.0}
    assert "KP" not in subitems["Instruction Decomposition"]["multi-element_composition"]
    every = [5, 5, 4, 3, 2, 4, 4, 4, 4, 5, 4, 4, 3, 4, 5, 4, 3, 4, 4, 5, 5, 4, 4, 3, 4, 2, 2, 4]
    assert summary["Overall"]["AVG"] == pytest.approx(_n(*every))  # a knowledge item weighs four scores
    low, high = h["figures"]["Overall/AVG"]["ci95"]
    assert low < summary["Overall"]["AVG"] < high
    scheme = json.loads((out / "summary.json").read_text())["scheme"]
    assert scheme["protocol"]["normalisation"] == "(score - 1) * 25"
    assert "| Natural Science | 100.00 | 75.00 | 75.00 | 50.00 | 75.00 |" in (out / "summary.md").read_text()
    build(out)
    assert "Headline (KRIS-Bench protocol)" in (out / "report.html").read_text() and h["unparseable"] == 1


def test_the_export_is_each_categorys_metrics_json_of_complete_items(tmp_path):
    out = _judge(tmp_path)
    written = export(out, "krisbench", tmp_path / "export")
    assert sorted(p.parent.name for p in written) == sorted(
        [
            "count_change",
            "anomaly_correction",
            "physics",
            "viewpoint_change",
            "multi-element_composition",
            "temporal_prediction",
        ]
    )
    physics = json.loads((tmp_path / "export" / "physics" / "metrics.json").read_text())
    assert list(physics) == ["1"]  # physics/2 lacks scores: its scripts leave such an item out
    entry = physics["1"]
    assert entry["instruction"] == "Edit physics 1 [c5 i4 k3]." and entry["explain"] == "Ice floats."
    assert (entry["consistency_score"], entry["instruction_score"], entry["knowledge_score"]) == (5.0, 4.0, 3.0)
    assert '"knowledge_score": 3' in entry["knowledge_reasoning"]
    counts = json.loads((tmp_path / "export" / "count_change" / "metrics.json").read_text())
    assert sorted(counts) == ["1", "2"] and "knowledge_score" not in counts["1"]


def _their(name: str):
    spec = importlib.util.spec_from_file_location(f"kris_{name}", Path(SOURCE) / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_source
def test_its_summarize_on_our_export_equals_our_tables(tmp_path):
    out = _judge(tmp_path, "judge=krisbench_official", f"judge.official_source={Path(SOURCE) / 'prompts.py'}")
    export(out, "krisbench", tmp_path / "export")
    # Its main() passes max_score=5 to a function that takes no such argument (a TypeError): its function is called.
    types, subitems, meta, overall = _their("summarize").summarize_benchmark_scores_with_normalization(
        str(tmp_path / "export")
    )
    h = json.loads((out / "summary.json").read_text())["headline"]
    assert h["table"] == {"summary": {**types, **meta, "Overall": overall}, "subitems": subitems}


@needs_source
def test_our_prompts_are_its_prompts_filled_as_its_scripts_fill_them(tmp_path):
    prompts = _their("prompts")
    out = _judge(tmp_path, "judge=krisbench_official", f"judge.official_source={Path(SOURCE) / 'prompts.py'}",
                 "dry_run=true")  # fmt: skip
    asked = {(r["id"], r["judgement"]): r["messages"][-1]["content"] for r in read_jsonl(out / "prompts.jsonl")}
    instruction = "Edit temporal_prediction 2 [c2 i2]."
    frames = asked[("temporal_prediction/2", "instruction_score")]
    assert frames[0]["text"] == prompts.prompt_instruction_temporal.format(N=2, instruct=instruction)
    assert [c["text"] for c in frames[1::2]] == ["Frame 1 (Reference):", "Frame 2 (Generated):", "Frame 3 (Reference):",
                                                 "Frame 4 (Reference):"]  # fmt: skip
    assert [c["path"].rsplit("/", 2)[-2:] for c in frames[2::2]][1] == ["temporal_prediction", "2.png"]
    dual = asked[("physics/1", "dual_evaluation")]
    explained = prompts.prompt_dual_evaluation.format(instruct="Edit physics 1 [c5 i4 k3].", explanation="Ice floats.")
    assert dual[0]["text"] == explained and dual[1]["text"] == "This is the original image:"
    quality = asked[("count_change/1", "quality_score")]
    assert [c.get("text") for c in quality[:2]] == [prompts.prompt_quality, "This is the original image:"]
    view = asked[("viewpoint_change/1", "instruction_score")]
    assert view[-2]["text"] == "This is the ground truth image:" and view[-1]["path"].endswith("1_gt.jpg")


SCRIPTS = {  # its scripts, the function that judges one item, and the categories of the fixture each judges
    "metrics_common": ("evaluate_images", ["count_change", "anomaly_correction"]),
    "metrics_knowledge": ("evaluate_images", ["physics"]),
    "metrics_view_change": ("evaluate_images", ["viewpoint_change"]),
    "metrics_multi_element": ("evaluate_multi_element_images", ["multi-element_composition"]),
    "metrics_temporal_prediction": ("evaluate_temporal_images", ["temporal_prediction"]),
}


def _their_judging(layout: dict, monkeypatch) -> tuple[dict, dict]:
    """Every item judged by its own scripts against the test judge: the chat each call sent, by item in call order,
    and the scores its scripts read from the replies."""
    sent: dict[str, list] = {}
    current = []

    def create(model, messages, **kwargs):
        current.append(messages[0]["content"])
        text = "\n".join(c["text"] for c in messages[0]["content"] if c["type"] == "text")
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=krisbench_reply(text)))])

    openai = types.ModuleType("openai")
    openai.AzureOpenAI = lambda **kwargs: SimpleNamespace(
        chat=SimpleNamespace(completions=SimpleNamespace(create=create))
    )
    monkeypatch.setitem(sys.modules, "openai", openai)
    monkeypatch.syspath_prepend(SOURCE)
    monkeypatch.setattr(sys, "argv", ["metrics", "--results_dir", str(Path(layout["outputs"]).parent)])
    scores = {}
    for script, (judge_one, categories) in SCRIPTS.items():
        module = _their(script)
        module.BENCH_DIR = layout["metadata"]
        for category in categories:
            keys = json.loads((Path(layout["metadata"]) / category / "annotation.json").read_text())
            for key in keys:
                current = sent.setdefault(f"{category}/{key}", [])
                scores[f"{category}/{key}"] = getattr(module, judge_one)("editor", category, key)
    return sent, scores


def _as_paths(content: list, files: list[Path]) -> list:
    """Its chat with each image named by the file it encodes (as read, or re-encoded as JPEG 85 for frames)."""
    import base64
    import io

    from PIL import Image

    names = {}
    for f in files:
        names[base64.b64encode(f.read_bytes()).decode()] = str(f)
        buffer = io.BytesIO()
        Image.open(f).convert("RGB").save(buffer, format="JPEG", quality=85)
        names[base64.b64encode(buffer.getvalue()).decode()] = str(f)
    return [c["text"] if c["type"] == "text" else names[c["image_url"]["url"].split(",", 1)[1]] for c in content]


@needs_source
def test_its_scripts_send_the_chats_we_send_and_read_the_scores_we_read(tmp_path, monkeypatch):
    official = ["judge=krisbench_official", f"judge.official_source={Path(SOURCE) / 'prompts.py'}"]
    ours = {(r["id"], r["judgement"]): r["messages"][-1]["content"]
            for r in read_jsonl(_judge(tmp_path, *official, "dry_run=true") / "prompts.jsonl")}  # fmt: skip
    rows = {r["id"]: r for r in read_jsonl(_judge(tmp_path / "again", *official) / "results.jsonl")}
    layout = {"metadata": str(tmp_path / "KRIS_Bench"), "outputs": str(tmp_path / "results" / "editor")}
    sent, theirs = _their_judging(layout, monkeypatch)
    files = [p for p in tmp_path.rglob("*") if p.suffix in (".png", ".jpg")]
    for item, chats in sent.items():
        mine = [[c.get("text", c.get("path")) for c in content] for (i, _), content in ours.items() if i == item]
        assert [_as_paths(c, files) for c in chats] == mine, item
    assert "count_change/3" in sent and sent["count_change/3"] == []  # no output: its script asks nothing either
    for item, found in theirs.items():
        if item == "physics/2":  # the reply "Step 1 shows the edit": its scripts read a 1, we read no score
            assert found["consistency_score"] == 1 and rows[item]["consistency_score"] is None
            continue
        assert {k: v for k, v in found.items() if k.endswith("_score")} == {
            k: int(rows[item][k]) for k in found if k.endswith("_score") and rows[item].get(k) is not None
        }, item
