"""backend=api against a third-party OpenAI-compatible server: ``transformers serve`` with the tiny Qwen3-VL judge,
on CPU. The server and the local judge run the same checkpoint, so their greedy replies must be the same text."""

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from evaluator.judge.qwen_vl import TINY_JUDGES

from ..conftest import assert_ok, cli_env, read_jsonl, run_cli

pytestmark = pytest.mark.slow
pytest.importorskip("fastapi", reason="transformers serve needs fastapi and uvicorn (the dev extra)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The tiny judge behind ``transformers serve``: its URL and model name."""
    checkpoint = TINY_JUDGES.resolve("tiny:qwen3_vl")
    exe = shutil.which("transformers")
    assert exe, "the transformers command line is missing"
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = cli_env(HF_HUB_DISABLE_UPDATE_CHECK="1")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [exe, "serve", checkpoint, "--device", "cpu", "--dtype", "float32", "--host", "127.0.0.1",
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    assert checkpoint in r.read().decode()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
        yield url, checkpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_judge_served_by_transformers_serve_writes_what_the_local_judge_writes(served, tmp_path):
    url, checkpoint = served
    common = ["data.limit=4", "report=false", "judge=score10"]
    api = run_cli(["backend=api", f"api.base_url={url}", f"api.model={checkpoint}", "api.key_env=null",
                   "api.max_tokens=24", *common, f"out_dir={tmp_path / 'api'}"])  # fmt: skip
    assert_ok(api)
    local = run_cli(["model=tiny", "data.batch_size=1", "trainer.devices=1", *common, f"out_dir={tmp_path / 'local'}"])
    assert_ok(local)
    served_rows = {r["id"]: r for r in read_jsonl(tmp_path / "api" / "results.jsonl")}
    local_rows = {r["id"]: r for r in read_jsonl(tmp_path / "local" / "results.jsonl")}
    assert len(served_rows) == 4 and served_rows.keys() == local_rows.keys()
    whole = 0
    for sample_id, row in served_rows.items():
        assert row["api_requests"] == 1 and row["api_completion_tokens"] > 0
        # The same greedy text; the server keeps special tokens (<|vision_start|>) in the reply, the local judge not.
        # Random weights write bytes that are no UTF-8, and transformers serve's streamed decoding (5.25) can drop
        # the text before the first of them: the server's text is then the end of the local judge's.
        text = re.sub(r"<\|\w+\|>", "", row["response"])
        assert local_rows[sample_id]["response"].endswith(text) and len(text) > 10, sample_id
        whole += text == local_rows[sample_id]["response"]
        assert (row["score"], row["error"]) == (local_rows[sample_id]["score"], local_rows[sample_id]["error"])
    assert whole >= 1
    summary = json.loads((tmp_path / "api" / "summary.json").read_text())
    assert summary["api"]["requests"] == 4


def test_logit_mode_through_a_server_without_logprobs_stops_in_one_line(served, tmp_path):
    url, checkpoint = served
    proc = run_cli(["backend=api", f"api.base_url={url}", f"api.model={checkpoint}", "api.key_env=null",
                    "judge.mode=logits", "data.limit=2", "report=false", f"out_dir={tmp_path / 'out'}"])  # fmt: skip
    assert proc.returncode == 3, proc.stderr[-2000:]
    # transformers serve ignores the fields (5.24) or refuses them; either way one line, nothing scored.
    assert re.search(r"(returned no|does not take) logprobs", proc.stderr) and "Traceback" not in proc.stderr
    assert read_jsonl(tmp_path / "out" / "shards" / "rank-0.jsonl") == []
