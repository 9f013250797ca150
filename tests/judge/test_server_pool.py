"""Several servers of one judge: the least-busy server gets each request, a failing one is left out, and a server
that dies mid-run loses nothing."""

import asyncio
import json

import pytest
from PIL import Image

from evaluator.config.checks import api_servers, check_judge
from evaluator.config.compose import compose
from evaluator.judge import server_pool
from evaluator.judge.server_pool import ServerPool
from evaluator.judge.stage import run
from evaluator.results.resume import score_fingerprint
from evaluator.runtime.errors import ConfigError
from evaluator.scoring.schemes import Scheme

from ..api_server import Server
from ..conftest import read_jsonl


class _Client:
    async def close(self):
        pass


def _pool(*urls, slots=2) -> ServerPool:
    return ServerPool.open(list(urls), slots, lambda url: _Client())


def test_requests_go_to_the_least_busy_server_and_equal_servers_take_turns():
    async def go():
        pool = _pool("http://a", "http://b")
        order = []
        async with pool.lease() as first, pool.lease() as second, pool.lease() as third:
            order += [first.url, second.url, third.url]
        for _ in range(4):
            async with pool.lease() as e:
                order.append(e.url)
        return order, pool.counts()

    order, counts = asyncio.run(go())
    assert order[:3] == ["http://a", "http://b", "http://a"]
    assert order[3:] == ["http://b", "http://a", "http://b", "http://a"]
    assert counts == {"http://a": {"requests": 4, "failed": 0}, "http://b": {"requests": 3, "failed": 0}}


def test_a_failing_server_is_left_out_then_tried_one_request_at_a_time(caplog):
    pool = _pool("http://a", "http://b", slots=4)
    a, b = pool.endpoints
    for _ in range(server_pool.DOWN_AFTER):
        pool.failed(b, "connection refused")
    pool.failed(b, "connection refused")
    assert [r.getMessage() for r in caplog.records if "leaving it out" in r.getMessage()] == [
        "api: http://b failed 3 tries in a row (connection refused); leaving it out, trying it again every 30 s"
    ]  # one warning, however many tries fail after it
    assert pool._pick(None) is a and pool._pick(a) is a  # b is out, even where a try just failed on a
    assert pool.up_besides([b]) and not pool.up_besides([a]) and not pool.up_besides([b, a])
    b.down_until = 0  # its time out is over: one request may try it
    assert b.free(1e9) == 1
    pool.succeeded(b)
    assert b.free(1e9) == 4 and any("answers again" in r.getMessage() for r in caplog.records)


def test_with_every_server_down_requests_still_go_out():
    async def go():
        pool = _pool("http://a", "http://b")
        for e in pool.endpoints:
            for _ in range(server_pool.DOWN_AFTER):
                pool.failed(e, "timeout")
        async with pool.lease() as e:
            return e.url

    assert asyncio.run(go()) in ("http://a", "http://b")


def test_base_url_takes_a_list_and_the_fingerprint_its_set():
    base = ["backend=api", "api.model=m", "api.key_env=null"]
    one = compose([*base, "api.base_url=http://a:8000/v1"])
    two = compose([*base, "api.base_url=[http://a:8000/v1,http://b:8000/v1]"])
    swapped = compose([*base, "api.base_url=[http://b:8000/v1,http://a:8000/v1]"])
    listed_once = compose([*base, "api.base_url=[http://a:8000/v1]"])
    assert api_servers(two.api) == ["http://a:8000/v1", "http://b:8000/v1"]
    scheme = Scheme.from_config(one.judge)
    fingerprints = [score_fingerprint(c, scheme) for c in (one, two, swapped, listed_once)]
    assert fingerprints[1] == fingerprints[2] != fingerprints[0] == fingerprints[3]
    with pytest.raises(ConfigError, match=r"api\.base_url lists http://a/v1 twice"):
        check_judge(compose([*base, "api.base_url=[http://a/v1,http://a/v1]"]))
    with pytest.raises(ConfigError, match=r"takes http\(s\):// URLs .* not 'localhost:8000'"):
        check_judge(compose([*base, "api.base_url=[http://a/v1,localhost:8000]"]))


def test_two_servers_share_the_requests_and_the_summary_counts_each(tmp_path):
    out = tmp_path / "out"
    with Server(delay=0.02) as a, Server(delay=0.02) as b:
        urls = f"api.base_url=[{a.url},{b.url}]"
        run(compose(["backend=api", urls, "api.model=m", "api.key_env=null", "api.concurrency=2", "report=false",
                     f"out_dir={out}"]))  # fmt: skip
        asked = {a.url: len(a.texts), b.url: len(b.texts)}
    rows = read_jsonl(out / "results.jsonl")
    assert len(rows) == 18 and all(r["score"] is not None for r in rows)
    assert sum(asked.values()) == 18 and min(asked.values()) >= 18 / 4  # a fair share each
    summary = json.loads((out / "summary.json").read_text())
    assert summary["api"]["servers"] == {url: {"requests": n, "failed": 0} for url, n in asked.items()}
    assert sum(r["api_servers"].get(a.url, {}).get("requests", 0) for r in rows) == asked[a.url]
    assert f"- {a.url}: {asked[a.url]} tries, 0 failed" in (out / "summary.md").read_text()


def test_a_server_that_dies_mid_run_loses_nothing(tmp_path):
    for i in range(4):
        Image.new("RGB", (32, 32), (i * 40, 90, 200)).save(tmp_path / f"{i}.png")
    manifest = tmp_path / "m.jsonl"
    rows = [{"id": f"s{i}", "source": f"{i % 4}.png", "edited": f"{(i + 1) % 4}.png", "instruction": f"Edit {i}."}
            for i in range(40)]  # fmt: skip
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    with Server(delay=0.02) as a, Server(delay=0.02, down_after=6) as b:
        run(compose(["backend=api", f"api.base_url=[{a.url},{b.url}]", "api.model=m", "api.key_env=null",
                     "api.concurrency=2", "api.timeout_s=2", "data=manifest", f"data.path={manifest}",
                     "report=false", f"out_dir={out}"]))  # fmt: skip
    results = read_jsonl(out / "results.jsonl")
    assert sorted(r["id"] for r in results) == sorted(r["id"] for r in rows)
    assert all(r["score"] is not None and r["error"] is None for r in results)
    servers = json.loads((out / "summary.json").read_text())["api"]["servers"]
    assert servers[b.url]["failed"] >= server_pool.DOWN_AFTER  # tries on the dead server, each asked again on a
    answered = {url: c["requests"] - c["failed"] for url, c in servers.items()}
    assert sum(answered.values()) == 40 and answered[b.url] >= 6
