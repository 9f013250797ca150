"""Pairs of edits judged by a server whose answers are known: one that prefers the brighter edit, one that always
names the candidate shown first, and the tiny local judge in pairwise logit mode."""

import json

import pytest
from PIL import Image

from evaluator.config.compose import compose
from evaluator.judge.stage import run

from ..api_server import Server
from ..conftest import read_jsonl

N = 30
FLIPPED = {3, 7, 11, 19, 23, 29}  # the pairs whose person disagrees with the brighter-preferring judge


def brighter(text: str, brightness: list[float]) -> str:
    """Pairwise (source, first, second): the brighter candidate wins; pointwise (source, edit): brightness as 0-10."""
    if len(brightness) == 3:
        winner = "A" if brightness[1] > brightness[2] else "B" if brightness[2] > brightness[1] else "tie"
        return json.dumps({"reasoning": "the brighter one", "winner": winner})
    return json.dumps({"reason": "brightness", "score": round(brightness[1] / 25.5)})


def first_shown(text: str, brightness: list[float]) -> str:
    return json.dumps({"reasoning": "always the first", "winner": "A"})


def make_pairs(folder, n: int = N) -> tuple:
    """``n`` pairs of gray edits of one source; in pair i, A is brighter when i is even. ``human`` agrees with the
    brighter edit except on FLIPPED."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), (128, 128, 128)).save(folder / "source.png")
    rows, expected = [], {}
    for i in range(n):
        dark, light = 20 + 5 * (i % 10), 150 + 5 * (i % 10)
        a, b = (light, dark) if i % 2 == 0 else (dark, light)
        for name, level in (("a", a), ("b", b)):
            Image.new("RGB", (32, 32), (level, level, level)).save(folder / f"{i}-{name}.png")
        expected[f"p{i}"] = "A" if a > b else "B"
        human = {"A": "B", "B": "A"}[expected[f"p{i}"]] if i in FLIPPED else expected[f"p{i}"]
        rows.append({"id": f"p{i}", "source": "source.png", "instruction": f"Make it nicer {i}.",
                     "edited_a": f"{i}-a.png", "edited_b": f"{i}-b.png", "category": ["x", "y"][i % 2], "human": human})  # fmt: skip
    path = folder / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, expected


def _api(server, pairs, out, *extra) -> list[str]:
    return ["backend=api", f"api.base_url={server.url}", "api.model=m", "api.key_env=null", "data=pairs",
            f"data.path={pairs}", "report=false", f"out_dir={out}", *extra]  # fmt: skip


def test_a_pairwise_judge_is_asked_each_pair_twice_and_agrees_with_people_on_24_of_30(tmp_path):
    pairs, expected = make_pairs(tmp_path / "data")
    out = tmp_path / "out"
    with Server(judge=brighter) as server:
        run(compose(_api(server, pairs, out, "judge=pairwise")))
        assert len(server.texts) == 2 * N  # each pair once per order
        run(compose(_api(server, pairs, out, "judge=pairwise")))
        assert len(server.texts) == 2 * N  # a rerun asks nothing again
    rows = read_jsonl(out / "results.jsonl")
    assert sorted(r["id"] for r in rows) == sorted(f"p{i}#{o}" for i in range(N) for o in ("AB", "BA"))
    got = read_jsonl(out / "pairs.jsonl")
    assert [p["id"] for p in got] == [f"p{i}" for i in range(N)]  # input order, one row per pair
    assert {p["id"]: p["winner"] for p in got} == expected
    assert all(p["consistent"] and p["verdict_ab"] == p["verdict_ba"] == p["winner"] for p in got)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pairs"]["winners"] == {"A": 15, "B": 15, "tie": 0} and summary["pairs"]["consistent"] == 1.0
    assert summary["pairs"]["first_shown_wins"] == 0.5
    agreement = summary["agreement"]
    assert agreement["accuracy"] == 0.8 and agreement["n"] == N and agreement["errors"] == 0
    assert agreement["ci95"][0] < 0.8 < agreement["ci95"][1]
    assert set(agreement["by_category"]) == {"x", "y"}
    assert "Agreement with people (30 labelled pairs)" in (out / "summary.md").read_text()
    from evaluator.results import report

    html = report.build(out)[-1].read_text()
    assert 'id="agreement"' in html and "Accuracy 0.800" in html and html.count('alt="B"') == N


def test_a_pointwise_judge_on_the_same_pairs_scores_each_edit_once_and_agrees_as_often(tmp_path):
    pairs, expected = make_pairs(tmp_path / "data")
    out = tmp_path / "out"
    with Server(judge=brighter) as server:
        run(compose(_api(server, pairs, out)))  # judge=score10: one edit per prompt
        assert len(server.texts) == 2 * N  # each edit once
    got = read_jsonl(out / "pairs.jsonl")
    assert {p["id"]: p["winner"] for p in got} == expected
    assert all(p["score_a"] != p["score_b"] for p in got)
    assert json.loads((out / "summary.json").read_text())["agreement"]["accuracy"] == 0.8


def test_a_position_biased_judge_gets_ties_not_wins(tmp_path):
    pairs, _ = make_pairs(tmp_path / "data", n=10)
    out = tmp_path / "out"
    with Server(judge=first_shown) as server:
        run(compose(_api(server, pairs, out, "judge=pairwise")))
    got = read_jsonl(out / "pairs.jsonl")
    assert {p["winner"] for p in got} == {"tie"} and not any(p["consistent"] for p in got)
    assert {(p["verdict_ab"], p["verdict_ba"]) for p in got} == {("A", "B")}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pairs"]["first_shown_wins"] == 1.0 and summary["pairs"]["consistent"] == 0.0
    # Ties everywhere: no figure rises by them, EditReward-Bench's without-ties one included.
    assert summary["agreement"]["accuracy"] == 0.0 and summary["agreement"]["accuracy_without_ties"] == 0.0
    assert "headline" not in summary  # a mean over both orders' verdicts is no benchmark's figure
    from evaluator.compare import main as compare

    with pytest.raises(SystemExit) as stopped:
        compare([str(out), str(out)])
    assert stopped.value.code == 2


def test_a_changed_edit_is_asked_again_in_both_orders_and_only_its_pair(tmp_path):
    pairs, _ = make_pairs(tmp_path / "data", n=4)
    out = tmp_path / "out"
    with Server(judge=brighter) as server:
        run(compose(_api(server, pairs, out, "judge=pairwise")))
        Image.new("RGB", (32, 32), (255, 255, 255)).save(tmp_path / "data" / "1-a.png")  # pair p1's A, now brightest
        run(compose(_api(server, pairs, out, "judge=pairwise")))
        assert len(server.texts) == 8 + 2
    assert {p["id"]: p["winner"] for p in read_jsonl(out / "pairs.jsonl")}["p1"] == "A"


@pytest.mark.slow
def test_the_tiny_local_judge_in_pairwise_logit_mode_writes_p_a_under_two_ranks(tmp_path):
    from ..conftest import assert_ok, run_cli

    pairs, _ = make_pairs(tmp_path / "data", n=6)
    out = tmp_path / "out"
    proc = run_cli(["model=tiny", "judge=pairwise", "judge.mode=logits", "data=pairs", f"data.path={pairs}",
                    "trainer=cpu", "trainer.devices=2", "data.num_workers=0", "report=false", f"out_dir={out}"])  # fmt: skip
    assert_ok(proc)
    rows = read_jsonl(out / "results.jsonl")
    assert len(rows) == 12 and {r["rank"] for r in rows} == {0, 1}
    got = read_jsonl(out / "pairs.jsonl")
    assert len(got) == 6 and all(0 <= p["p_a"] <= 1 for p in got)
    assert all(p["winner"] in ("A", "B", "tie") for p in got)
