"""backend=api against a small OpenAI-compatible server started by the test (tests/api_server.py)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from evaluator.config.compose import compose
from evaluator.judge.stage import run
from evaluator.runtime.errors import ConfigError, JudgeUnavailable

from ..api_server import Server, canned_score, logprob_score
from ..conftest import REPO, cli_env, read_jsonl

KEY = "sk-test-SECRET-4f9a1c77"


def _api(server: Server, *extra: str) -> list[str]:
    return ["backend=api", f"api.base_url={server.url}", "api.model=judge-model", "report=false", *extra]


def _files_text(folder) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def test_api_scores_every_sample_once_within_the_concurrency_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out = tmp_path / "out"
    with Server(delay=0.05) as server:
        run(compose([*_api(server, "api.concurrency=3"), f"out_dir={out}"]))
    rows = read_jsonl(out / "results.jsonl")
    assert len(rows) == 18 and len({r["id"] for r in rows}) == 18
    assert len(server.texts) == 18  # one request per sample: nothing asked twice
    for r in rows:  # the canned reply for exactly this sample's prompt (two samples may share an instruction)
        [text] = {t for t in server.texts if f'"{r["instruction"]}"' in t}
        assert r["score"] == canned_score(text) and r["error"] is None
    assert 2 <= server.most <= 3  # requests did overlap, and never beyond api.concurrency
    summary = json.loads((out / "summary.json").read_text())
    assert summary["api"] == {
        "requests": 18,
        "retries": 0,
        "prompt_tokens": 1800,
        "completion_tokens": 180,
        "models": {"judge-model": 18},
    }
    assert server.auth == {f"Bearer {KEY}"}  # the key went to the server, and nowhere else:
    assert "SECRET" not in _files_text(out)


def test_api_retries_429_500_timeouts_and_malformed_replies_and_counts_them(tmp_path):
    # Each piece is in one demo instruction only.
    faults = {"black and white": ["429", "500"], "Rotate the image": ["timeout"], "poster": ["malformed"]}
    out = tmp_path / "out"
    with Server(faults=faults, hang=6) as server:  # a slow machine's answers stay well within api.timeout_s
        run(compose([*_api(server, "api.timeout_s=3", "api.key_env=null"), f"out_dir={out}"]))
        asked = list(server.texts)
    rows = read_jsonl(out / "results.jsonl")
    assert all(r["score"] is not None for r in rows)  # every fault was retried until answered
    retried = {r["instruction"]: r["api_retries"] for r in rows if r["api_retries"]}
    assert retried == {
        "Turn the photo black and white.": 2,
        "Rotate the image 90 degrees clockwise.": 1,
        "Reduce the image to a few flat colors, like a poster.": 1,
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["api"]["retries"] == 4 and summary["api"]["requests"] == len(asked) == 18 + 4


def test_wrong_key_model_or_url_stops_before_scoring_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with Server(faults={"": ["401"] * 100}) as server:
        with pytest.raises(JudgeUnavailable, match="answered 401") as err:
            run(compose([*_api(server), f"out_dir={tmp_path / 'out'}"]))
        assert len(server.texts) == 1  # the probe only
    assert KEY not in str(err.value)
    shards = list((tmp_path / "out").rglob("rank-*.jsonl"))
    assert all(p.read_text() == "" for p in shards)


def test_api_needs_its_settings():
    from evaluator.config.checks import check_judge

    with pytest.raises(ConfigError, match=r"backend=api needs api\.base_url=\.\.\. api\.model=\.\.\."):
        check_judge(compose(["backend=api"]))
    with pytest.raises(ConfigError, match=r"api\.concurrency is at least 1"):
        check_judge(compose(["backend=api", "api.base_url=http://x/v1", "api.model=m", "api.concurrency=0"]))
    check_judge(compose(["backend=api", "api.base_url=http://x/v1", "api.model=m", "model=qwen3_vl_235b_a22b"]))


@pytest.mark.slow
def test_sigterm_then_rerun_asks_only_what_was_unanswered(tmp_path):
    out = tmp_path / "out"
    with Server(delay=0.4) as server:
        args = [*_api(server, "api.concurrency=2"), f"out_dir={out}"]
        proc = subprocess.Popen([sys.executable, "-m", "evaluator", *args], cwd=REPO, env=cli_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.time() + 60
        while len(server.texts) < 6 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
        assert "stopped by SIGTERM" in stderr
        answered = [json.loads(x)["id"] for x in (out / "shards" / "rank-0.jsonl").read_text().splitlines() if x]
        assert 4 <= len(answered) < 18
        first = len(server.texts)
        run(compose(args))
        again = server.texts[first:]
    rows = read_jsonl(out / "results.jsonl")
    assert len(rows) == 18 and all(r["score"] is not None for r in rows)
    # The rerun asked each unanswered sample once (a request cut off by the stop counts as unanswered).
    assert len(again) == 18 - len(answered)
    assert os.environ.get("OPENAI_API_KEY", "") == "" or "SECRET" not in _files_text(out)


def test_a_request_that_failed_for_good_is_an_error_row_and_asked_again_by_a_rerun(tmp_path):
    out = tmp_path / "out"
    args = ["api.max_retries=1", "api.key_env=null", f"out_dir={out}"]
    with Server(faults={"poster": ["500"] * 4}) as server:
        run(compose([*_api(server), *args]))
        port = server.httpd.server_address[1]
    [failed] = [r for r in read_jsonl(out / "results.jsonl") if r["error"]]
    assert failed["instruction"].endswith("like a poster.") and failed["error"].startswith("api error: 500")
    assert failed["score"] is None  # never a made-up score
    with Server(port=port) as server:  # the same server again (its URL is part of what the scores stand for)
        run(compose([*_api(server), *args]))
        assert len(server.texts) == 1 and "poster" in server.texts[0]  # only the failed one is asked again
    assert all(r["score"] is not None for r in read_jsonl(out / "results.jsonl"))


def test_logit_mode_reads_the_scores_distribution_from_the_servers_logprobs(tmp_path):
    out = tmp_path / "out"
    with Server() as server:
        run(compose([*_api(server, "judge.mode=logits", "api.key_env=null"), f"out_dir={out}"]))
    for r in read_jsonl(out / "results.jsonl"):
        [text] = {t for t in server.texts if f'"{r["instruction"]}"' in t}
        n = logprob_score(text)
        assert r["score"] == pytest.approx(0.7 * n + 0.2 * (n - 1) + 0.1 * (n + 1))
        assert (r["score_argmax"], r["score_confidence"]) == (n, pytest.approx(1.0))
    with Server(faults={"": ["nologprobs"] * 100}) as server:
        args = [*_api(server, "judge.mode=logits", "api.key_env=null"), f"out_dir={tmp_path / 'o2'}"]
        with pytest.raises(JudgeUnavailable, match=r"returned no logprobs .* needs a server that returns them"):
            run(compose(args))
    with Server(faults={"": ["422logprobs"] * 100}) as server:
        args = [*_api(server, "judge.mode=logits", "api.key_env=null"), f"out_dir={tmp_path / 'o3'}"]
        with pytest.raises(JudgeUnavailable, match=r"does not take logprobs \(Error code: 422 - Unsupported fields"):
            run(compose(args))
        assert len(server.texts) == 1  # the probe, not asked again


def test_the_server_judge_imports_no_torch_or_lightning():
    """Backend-neutral code lives outside the torch and Lightning modules (issue 19): the server judge needs neither."""
    code = (
        "import sys, evaluator.judge.server; print(sorted({'torch', 'lightning', 'transformers'} & set(sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "[]", proc.stderr
