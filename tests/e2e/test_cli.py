"""The CLI end to end, as users run it: one process, torchrun, launch.sh and Lightning's own launcher."""

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from evaluator.inputs.samples import Sample
from evaluator.results.plan import Plan, merge_rows

from ..conftest import DEMO_MANIFEST, REPO, assert_ok, cli_env, read_jsonl, run_cli

pytestmark = pytest.mark.slow

N_DEMO = len(DEMO_MANIFEST.read_text().splitlines())
# batch_size=1 makes every sample's computation identical whatever the world size, so rows compare exactly.
TINY = ["model=tiny", "trainer=cpu", "data.num_workers=0", "data.batch_size=1"]


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    assert_ok(run_cli([*TINY, f"out_dir={out}"]))
    return out


def test_single_process_demo_run_writes_every_file(single_run):
    assert sorted(p.name for p in single_run.iterdir()) == [
        "config.yaml", "files.json", "logs", "plot_categories.png", "plot_scores.png", "report.html", "results.csv",
        "results.jsonl", "run.json", "shards", "summary.json", "summary.md", "summary_all.csv",
        "summary_language-en.csv", "summary_language-zh.csv",
    ]  # fmt: skip
    rows = read_jsonl(single_run / "results.jsonl")
    demo = read_jsonl(DEMO_MANIFEST)
    assert [r["id"] for r in rows] == [d["id"] for d in demo]  # input order
    for row, d in zip(rows, demo, strict=True):
        assert row["instruction"] == d["instruction"] and row["follows"] == d["follows"]
        assert row["rank"] == 0 and row["seconds"] > 0 and row["response"]
        # Never a made-up score: a score exactly when there is no error.
        assert (row["score"] is None) == (row["error"] is not None)
    cfg = OmegaConf.load(single_run / "config.yaml")
    assert cfg.model.name_or_path == "tiny:qwen3_vl" and cfg.out_dir == str(single_run)
    summary = (single_run / "summary.md").read_text()
    assert f"| **all** | {N_DEMO} |" in summary


NOISE = ("GPU available", "TPU available", "HPU available", "litlogger", "pytree", "Total length of",
         "suggested max number of worker", "does not have many workers", "Traceback")  # fmt: skip


def test_quick_start_console_is_quiet_shows_numbers_and_reruns_without_the_judge(tmp_path):
    args = ["model=tiny", "trainer=cpu", "judge.mode=logits", f"out_dir={tmp_path}"]
    proc = run_cli(args)
    assert_ok(proc)
    assert [n for n in NOISE if n in proc.stderr + proc.stdout] == []
    assert f"plan: {N_DEMO} samples to score on 1 rank(s)" in proc.stderr and "scores are noise" in proc.stderr
    assert "Judge sanity check: ROC AUC" in proc.stderr and "– (0)" not in proc.stderr  # every table cell has a number
    assert f"results in {tmp_path}" in proc.stderr
    first = read_jsonl(tmp_path / "results.jsonl")
    again = run_cli(args)
    assert_ok(again)
    assert f"resuming: {N_DEMO} of {N_DEMO} samples" in again.stderr and "judging" not in again.stderr
    assert (tmp_path / "logs" / "rank-0.log").read_text().count("loaded tiny:qwen3_vl") == 1  # not loaded again
    assert read_jsonl(tmp_path / "results.jsonl") == first and len(first) == N_DEMO


def test_torchrun_three_ranks_matches_single_process(single_run, tmp_path):
    proc = run_cli([*TINY, f"out_dir={tmp_path}"], nproc=3)
    assert_ok(proc)
    rows = read_jsonl(tmp_path / "results.jsonl")
    reference = read_jsonl(single_run / "results.jsonl")
    assert len(rows) == N_DEMO  # exactly one row per demo sample
    assert [r["id"] for r in rows] == [r["id"] for r in reference]
    assert [(r["score"], r["response"], r["error"]) for r in rows] == [
        (r["score"], r["response"], r["error"]) for r in reference
    ]
    assert {r["rank"] for r in rows} == {0, 1, 2}
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["rank-0.log", "rank-1.log", "rank-2.log"]
    # Every line names its rank and device; the console shows rank 0's lines only, each rank's file its own.
    scored = [ln for ln in (tmp_path / "logs" / "rank-2.log").read_text().splitlines() if "stage: scored" in ln]
    assert len(scored) == 1 and "[rank 2/3 cpu] evaluator.judge.stage: scored" in scored[0]
    assert (
        "[rank 2/3 cpu]" not in proc.stderr and "[rank 0/3 cpu] evaluator.judge.stage: plan: 18 samples" in proc.stderr
    )
    assert [n for n in NOISE if n in proc.stderr] == []


def test_launch_sh_with_idle_rank_and_moe_judge(tmp_path):
    manifest = tmp_path / "two.jsonl"
    manifest.write_text("".join(DEMO_MANIFEST.read_text().splitlines(keepends=True)[:2]))
    for name in ("astronaut.jpg", "demo-00-astronaut-grayscale.jpg", "demo-01-astronaut-mirror.jpg"):
        (tmp_path / "images").mkdir(exist_ok=True)
        (tmp_path / "images" / name).write_bytes((DEMO_MANIFEST.parent / "images" / name).read_bytes())
    args = ["model=tiny_moe", "trainer=cpu", "data=manifest", f"data.path={manifest}", f"out_dir={tmp_path}/out"]
    proc = subprocess.run(
        ["./launch.sh", *args],
        cwd=REPO,
        env=cli_env(NPROC="3", PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert_ok(proc)
    rows = read_jsonl(tmp_path / "out" / "results.jsonl")
    assert [r["id"] for r in rows] == ["demo-00-astronaut-grayscale", "demo-01-astronaut-mirror"]
    assert sorted(r["rank"] for r in rows) == [0, 1]  # rank 2 had nothing to do, and neither hung nor crashed
    assert (
        "[rank 2/3 cpu] evaluator.judge.stage: scored 0 samples"
        in (tmp_path / "out" / "logs" / "rank-2.log").read_text()
    )


def test_lightning_launches_the_processes_itself(single_run, tmp_path):
    proc = run_cli(["model=tiny", "trainer=cpu", "trainer.devices=2", "data.batch_size=1", f"out_dir={tmp_path}"])
    assert_ok(proc)
    rows = read_jsonl(tmp_path / "results.jsonl")
    assert [r["response"] for r in rows] == [r["response"] for r in read_jsonl(single_run / "results.jsonl")]
    assert {r["rank"] for r in rows} == {0, 1}


def test_bad_data_stops_before_the_model_with_a_table(tmp_path):
    (tmp_path / "m.jsonl").write_text(
        '{"id": "a", "source": "missing.png", "edited": "missing.png", "instruction": "x"}\n{"id": "b"}\n'
    )
    args = ["model=tiny", "trainer=cpu", "data=manifest", f"data.path={tmp_path}/m.jsonl", "data.on_error=fail"]
    proc = run_cli([*args, f"out_dir={tmp_path}"])
    assert proc.returncode == 2
    assert "3 problem(s)" in proc.stderr and "source image not found" in proc.stderr
    assert "missing source, edited, instruction" in proc.stderr
    assert "Traceback" not in proc.stderr and "loaded tiny" not in (tmp_path / "logs" / "rank-0.log").read_text()
    assert not (tmp_path / "results.jsonl").exists()


def test_unreachable_judge_says_so_in_one_line(tmp_path):
    proc = run_cli(["model=qwen3_vl_8b", "trainer=cpu", f"out_dir={tmp_path}"], HF_HUB_OFFLINE="1")
    assert proc.returncode == 3
    [line] = [ln for ln in proc.stderr.splitlines() if "ERROR" in ln]
    assert "Qwen/Qwen3-VL-8B-Instruct" in line and "model=tiny" in line
    assert "Traceback" not in proc.stderr


def test_merge_rows_refuses_duplicates_gaps_and_strays():
    plan = Plan(todo=[Sample(id=i, source="s", edited="e", instruction="x") for i in "ab"])
    row = {"id": "a", "score": 1.0, "rank": 0}
    with pytest.raises(RuntimeError, match="scored twice"):
        merge_rows([[row], [{**row, "rank": 1}]], plan)
    with pytest.raises(RuntimeError, match="1 sample\\(s\\) were not scored: \\['b'\\]"):
        merge_rows([[row]], plan)
    with pytest.raises(RuntimeError, match="the plan did not hold: \\['c'\\]"):
        merge_rows([[row, {**row, "id": "b"}, {**row, "id": "c"}]], plan)


@pytest.mark.parametrize("mode", ["generate", "logits"])
def test_viescore_on_gedit_under_torchrun(tmp_path, mode):
    from ..fixtures import make_gedit

    paths = make_gedit(tmp_path / "bench")
    data = [f"data.{k}={v}" for k, v in paths.items()]
    out = tmp_path / "out"
    proc = run_cli(
        ["model=tiny", "trainer=cpu", "judge=viescore", f"judge.mode={mode}", "data=gedit", *data, f"out_dir={out}"],
        nproc=2,
    )
    assert_ok(proc)
    rows = read_jsonl(out / "results.jsonl")
    assert [r["id"] for r in rows] == ["g0/en", "g0/cn", "g1/en", "g1/cn", "g2/en"]
    assert rows[4]["error"] == "missing edit" and rows[4]["score"] is None
    scored = rows[:4]
    assert {r["rank"] for r in scored} == {0, 1}
    for r in scored:
        if mode == "logits":  # never fails to parse, and O = sqrt(SC * PQ) of min sub-scores
            assert r["error"] is None
            assert r["SC"] == min(r["editing"], r["overediting"]) and r["PQ"] == min(r["naturalness"], r["artifacts"])
            assert r["O"] == pytest.approx((r["SC"] * r["PQ"]) ** 0.5) and r["score"] == r["O"]
            assert 0 < r["editing_confidence"] <= 1 and r["editing_argmax"] in range(11)
        else:
            assert set(r) >= {"response.SC", "response.PQ", "error.SC", "error.PQ"}
    summary = (out / "summary.md").read_text()
    for table in ("### all", "### language=en", "### language=cn", "### intersection", "**macro avg**"):
        assert table in summary
    assert "| background_change | 3 |" in summary  # three samples, one of them without an edit
    assert (out / "summary_intersection.csv").exists()


def test_rubric5_on_imgedit_under_torchrun(tmp_path):
    from ..fixtures import make_imgedit

    data = [f"data.{k}={v}" for k, v in make_imgedit(tmp_path / "bench").items()]
    out = tmp_path / "out"
    proc = run_cli(["model=tiny", "trainer=cpu", "judge=rubric5", "data=imgedit", *data, f"out_dir={out}"], nproc=2)
    assert_ok(proc)
    rows = read_jsonl(out / "results.jsonl")
    assert [r["id"] for r in rows] == ["i0", "i1", "i2", "i3"]
    assert rows[3]["error"] == "missing edit"
    assert all({"compliance", "seamlessness", "fidelity", "overall", "response"} <= set(r) for r in rows[:3])
    header = (out / "summary_all.csv").read_text().splitlines()[0]
    assert header == "category,n," + ",".join(
        f"{c},{c}_se,{c}_n" for c in ("compliance", "seamlessness", "fidelity", "overall")
    )


@pytest.mark.slow
def test_the_first_line_is_the_config_check_before_the_heavy_imports(tmp_path):
    """Issue 19, trap 5: 8-23 s of silence before the first line; it now comes right after the config check."""
    proc = run_cli(["model=tiny", "dry_run=true", f"out_dir={tmp_path}"])
    assert_ok(proc)
    lines = [line for line in proc.stderr.splitlines() if " INFO " in line]
    assert f"config checked; results go to {tmp_path}; starting" in lines[0]
