"""The judge from Python: scoring lists, as a reward, and as a validation metric in a DDP training loop."""

import csv
import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from evaluator import Judge

from ..conftest import REPO, assert_ok, cli_env


@pytest.fixture(scope="module")
def judge():
    return Judge.from_config(model="tiny", judge="score10", overrides=["judge.mode=logits"], device="cpu")


def _pictures(n, seed):
    g = torch.Generator().manual_seed(seed)
    return list(torch.rand(n, 3, 48, 48, generator=g))


def test_score_takes_tensors_pil_and_arrays_in_input_order(judge):
    sources, edits = _pictures(3, 0), _pictures(3, 1)
    instructions = ["Make it red.", "Make it green.", "Make it blue."]
    results = judge.score(sources, edits, instructions, ids=["a", "b", "c"])
    assert [r["id"] for r in results] == ["a", "b", "c"]
    assert all(r["error"] is None and 0 <= r["score"] <= 10 for r in results)
    as_pil = [Image.fromarray((e.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)) for e in edits]
    as_array = [np.asarray(p) for p in as_pil]
    assert [r["score"] for r in judge.score(sources, as_pil, instructions)] == pytest.approx(
        [r["score"] for r in judge.score(sources, as_array, instructions)]
    )
    with pytest.raises(ValueError, match="2 sources, 3 edits"):
        judge.score(sources[:2], edits, instructions)
    assert not any(p.requires_grad for p in judge.module.model.parameters())


def test_reward_for_groups_of_edits(judge):
    """GRPO-style: 2 instructions, 4 edits each; rewards come back as a [2, 4] tensor, in order, deterministic."""
    sources = _pictures(2, 2)
    edits = _pictures(8, 3)
    instructions = ["Make it red.", "Add a frame."]
    group_sources = [sources[i // 4] for i in range(8)]
    group_texts = [instructions[i // 4] for i in range(8)]
    rewards = torch.tensor([r["score"] for r in judge.score(group_sources, edits, group_texts)]).view(2, 4)
    assert rewards.shape == (2, 4)
    again = torch.tensor([r["score"] for r in judge.score(group_sources, edits, group_texts)]).view(2, 4)
    assert torch.equal(rewards, again)  # deterministic
    one = judge.score([group_sources[5]], [edits[5]], [group_texts[5]])[0]["score"]
    assert one == pytest.approx(rewards[1, 1].item(), rel=1e-4)  # in input order (batching pads differently)
    assert rewards.std() > 0  # the edits differ, and so do their rewards


@pytest.mark.slow
def test_validation_metric_in_ddp_equals_the_judge_in_one_process(tmp_path, restore_environ):
    proc = subprocess.run(
        [sys.executable, "examples/train_with_judge.py", "--out", str(tmp_path), "--devices", "2", "--epochs", "2"],
        cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert_ok(proc)
    logged = [r for r in csv.DictReader((tmp_path / "metrics.csv").open()) if r["val/judge_score"]]
    assert [int(r["epoch"]) for r in logged] == [0, 1]
    assert float(logged[-1]["val/judge_count"]) == 7  # 7 unique samples; the sampler's padded repeat is dropped

    spec = importlib.util.spec_from_file_location("train_with_judge", REPO / "examples" / "train_with_judge.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    editor = example.ColourEditor()
    editor.load_state_dict(torch.load(tmp_path / "editor.pt"))
    val = example.validation_set()
    items = [val[i] for i in range(len(val))]
    with torch.no_grad():
        edits = editor(torch.stack([x["sources"] for x in items]), torch.tensor([x["kinds"] for x in items]))
    judge = Judge.from_config(**example.JUDGE, device="cpu")
    results = judge.score([x["sources"] for x in items], list(edits), [x["instructions"] for x in items])
    expected = sum(r["score"] for r in results) / len(results)
    # A mean of the two ranks' means would be off by ~7e-5 here, a repeated sample by ~1e-4. The ranks batch the
    # samples differently from this process (other padding, one thread each), which moves scores by ~1e-7-1e-6.
    assert float(logged[-1]["val/judge_score"]) == pytest.approx(expected, rel=1e-5)


def test_readme_and_python_api_page_snippets_run(capsys):
    import re

    snippets = []
    for page in ("README.md", "docs/python-api.md"):
        found = re.findall(r"```python\n(.*?)```", (REPO / page).read_text(), flags=re.S)
        assert found, page
        snippets += [(page, code) for code in found]
    assert len(snippets) >= 4
    for page, code in snippets:
        exec(compile(code, page, "exec"), {})
    first, reward = capsys.readouterr().out.splitlines()
    # id, score, SC, PQ, error: a score exactly when there is no error (the random judge's replies rarely parse).
    sample_id, score, sc, pq, *error = first.split(" ")
    assert sample_id == "a" and (score == "None") == (error != ["None"])
    assert all(x == "None" or 0 <= float(x) <= 10 for x in (score, sc, pq))
    assert re.fullmatch(r"tensor\(\[\[\d\.\d{4}, \d\.\d{4}, \d\.\d{4}, \d\.\d{4}\]\]\)", reward)  # a [1, 4] reward


def test_a_judge_on_a_server_scores_as_the_local_one_does(judge):
    from ..api_server import Server, canned_score

    sources, edits = _pictures(5, 4), _pictures(5, 5)
    instructions = [f"Make it red, take {i}." for i in range(5)]
    with Server(delay=0.02) as server:
        remote = Judge.from_config(judge="score10", overrides=[
            "backend=api", f"api.base_url={server.url}", "api.model=m", "api.key_env=null", "api.concurrency=3"])  # fmt: skip
        results = remote.score(sources, edits, instructions, ids=["a", "b", "a", "c", "d"])  # an id twice
        texts = list(server.texts)
        urls = list(server.image_urls)
    assert remote.module is None  # nothing loaded
    assert [r["id"] for r in results] == ["a", "b", "a", "c", "d"]  # in input order
    for instruction, r in zip(instructions, results, strict=True):
        [text] = [t for t in texts if instruction in t]
        assert r["score"] == canned_score(text) and r["error"] is None and r["api_requests"] == 1
    local = judge.score(sources[:1], edits[:1], instructions[:1])[0]
    assert set(local) - {"score_argmax", "score_confidence"} <= set(results[0])  # the local row's form
    assert len(urls) == 5 and all(u.startswith("data:image/png;base64,") for pair in urls for u in pair)


@pytest.mark.slow
def test_validation_metric_in_ddp_with_a_judge_on_a_server(tmp_path, restore_environ):
    from ..api_server import Server, canned_score

    with Server() as server:
        proc = subprocess.run(
            [sys.executable, "examples/train_with_judge.py", "--out", str(tmp_path), "--devices", "2", "--epochs", "2",
             "--judge-url", server.url],
            cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        texts = list(server.texts)
    assert_ok(proc)
    logged = [r for r in csv.DictReader((tmp_path / "metrics.csv").open()) if r["val/judge_score"]]
    assert [int(r["epoch"]) for r in logged] == [0, 1] and len(texts) == 2 * 7  # each unique sample once an epoch
    for epoch, row in enumerate(logged):
        asked = texts[7 * epoch : 7 * epoch + 7]  # an epoch's requests all come before the next epoch's
        assert float(row["val/judge_count"]) == 7
        assert float(row["val/judge_score"]) == pytest.approx(sum(canned_score(t) for t in asked) / 7)
