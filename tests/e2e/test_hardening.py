"""Inputs that must not break or mislead a run, and outputs that no field can break (each reproduced first)."""

import csv
import errno
import io
import json

import pytest
from PIL import Image

from evaluator.config.compose import compose
from evaluator.inputs import preflight, readers
from evaluator.inputs.manifest import read_manifest
from evaluator.inputs.samples import Kind
from evaluator.judge import qwen_vl
from evaluator.judge.stage import run
from evaluator.results import plots
from evaluator.results.summary import summarize
from evaluator.results.writing import safe_name, write_results, write_summary
from evaluator.runtime.errors import OutputError

from ..conftest import DEMO_MANIFEST, read_jsonl, run_cli
from ..fixtures import GEDIT_ROWS, data_cfg, make_gedit, make_imgedit


def _pair(tmp_path, i=0):
    Image.new("RGB", (32, 32), (i, 0, 0)).save(tmp_path / f"s{i}.png")
    Image.new("RGB", (32, 32), (0, i, 0)).save(tmp_path / f"e{i}.png")
    return f"s{i}.png", f"e{i}.png"


def test_excel_csv_with_a_byte_order_mark(tmp_path):
    s, e = _pair(tmp_path)
    text = f"id,source,edited,instruction\r\na,{s},{e},Make it red.\r\n"
    (tmp_path / "m.csv").write_bytes(text.encode("utf-8-sig"))  # Excel's "CSV UTF-8"
    samples, problems = read_manifest(tmp_path / "m.csv")
    assert problems == [] and [(x.id, x.instruction) for x in samples] == [("a", "Make it red.")]


def test_jsonl_line_separators_inside_strings_are_text(tmp_path):
    s, e = _pair(tmp_path)
    rows = [{"id": f"x{k}", "source": s, "edited": e, "instruction": f"one{sep}two"} for k, sep in
            enumerate(["\u2028", "\u2029", "\x85", "\x0b"])]  # fmt: skip
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    samples, problems = read_manifest(tmp_path / "m.jsonl")
    assert problems == [] and [x.instruction for x in samples] == [r["instruction"] for r in rows]


def test_numeric_ids_are_ids(tmp_path):
    s, e = _pair(tmp_path)
    rows = [{"id": 0, "source": s, "edited": e, "instruction": "x"}, {"id": 7.5, "source": s, "edited": e,
            "instruction": "x"}, {"id": None, "source": s, "edited": e, "instruction": "x"}]  # fmt: skip
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    samples, problems = read_manifest(tmp_path / "m.jsonl")
    assert [x.id for x in samples] == ["0", "7.5"]
    assert [(p.row, p.kind, p.message) for p in problems] == [(3, Kind.MISSING_FIELD, "missing id")]


def test_csv_row_with_more_cells_than_the_header(tmp_path):
    s, e = _pair(tmp_path)
    (tmp_path / "m.csv").write_text(f"id,source,edited,instruction\na,{s},{e},x\nb,{s},{e},x,surprise\n")
    samples, problems = read_manifest(tmp_path / "m.csv")
    assert [x.id for x in samples] == ["a"]
    assert [(p.row, p.id, p.kind) for p in problems] == [(2, "b", Kind.EXTRA_CELLS)]


def test_a_200k_character_instruction_is_an_error_row_before_any_model(tmp_path):
    s, e = _pair(tmp_path)
    rows = [{"id": "long", "source": s, "edited": e, "instruction": "make it red " * 17_000},
            {"id": "short", "source": s, "edited": e, "instruction": "make it red"}]  # fmt: skip
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = data_cfg(path=str(tmp_path / "m.jsonl"))
    loaded, share = preflight.read_and_check(data, tokenizer=qwen_vl.build_tokenizer())
    found = preflight.findings_of(data, loaded, [share])
    [problem] = found.problems
    assert problem.id == "long" and problem.kind is Kind.TOO_LONG
    assert problem.message.startswith("instruction too long: ") and "> data.max_prompt_tokens=2048" in problem.message
    assert list(found.sizes) == [1]  # the short row goes on


def test_batches_group_similar_lengths():
    from evaluator.runtime.sampler import balanced_shards, length_batches

    costs = [100, 5000, 110, 4900, 105, 4800, 95, 120, 4700]  # long prompts among short ones, 2 ranks
    shards = balanced_shards(costs, 2)
    batches = [b for shard in shards for b in length_batches(shard, costs, 3)]
    assert sorted(i for b in batches for i in b) == list(range(len(costs)))  # every sample once
    assert all(len(b) <= 3 for b in batches)
    for batch in batches:  # no batch pairs a long prompt with a short one
        assert max(costs[i] for i in batch) / min(costs[i] for i in batch) < 2
    assert length_batches([0, 1, 2, 3, 4], [1.0] * 5, 2) == [[0, 1], [2, 3], [4]]


def test_benchmark_keys_cannot_lead_out_of_their_folders(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = make_gedit(tmp_path)
    table = pq.read_table(paths["metadata"]).to_pylist()
    table[0]["key"] = "../../../escaped"
    table[1]["key"] = "/tmp/absolute-escape"
    pq.write_table(pa.Table.from_pylist(table), paths["metadata"])
    loaded = readers.read_samples(data_cfg(layout="gedit", **paths))
    assert sorted((p.row, p.kind) for p in loaded.problems) == [(1, Kind.OUTSIDE_ROOT), (2, Kind.OUTSIDE_ROOT)]
    assert len(loaded.samples + loaded.missing) == len(GEDIT_ROWS) - 2
    assert not list(tmp_path.parent.glob("escaped*")) and not list((tmp_path.parent.parent).glob("escaped*"))
    img = make_imgedit(tmp_path / "imgedit")
    meta = json.loads((tmp_path / "imgedit" / "basic_edit.json").read_text())
    meta["../../outside"] = meta.pop("i0")
    (tmp_path / "imgedit" / "basic_edit.json").write_text(json.dumps(meta))
    loaded = readers.read_samples(data_cfg(layout="imgedit", **img))
    assert [(p.id, p.kind) for p in loaded.problems] == [("../../outside", Kind.OUTSIDE_ROOT)]


def test_long_and_odd_values_make_short_safe_file_names(tmp_path):
    rows = [{"id": "a", "score": 1.0, "category": "$\\undefinedmacro$", "language": "x" * 300, "error": None},
            {"id": "b", "score": 2.0, "category": "=cmd|' /C calc'!A0", "language": "../../etc", "error": None}]  # fmt: skip
    names = [p.name for p in write_summary(summarize(rows), tmp_path)]
    assert all(len(n) < 80 and "/" not in n for n in names) and len(set(names)) == len(names)
    assert safe_name("x" * 300) != safe_name("x" * 299)
    plots.category_bars(summarize(rows)["tables"]["all"], "score", tmp_path / "c.png")  # mathtext: plain text
    assert Image.open(tmp_path / "c.png").size[0] > 100


def test_spreadsheet_formulas_are_shown_as_text(tmp_path):
    rows = [{"id": "=HYPERLINK(\"http://x\")", "instruction": "+1", "category": "-2", "reply": "@SUM(A1)",
             "score": -1.5, "error": None}]  # fmt: skip
    write_results(rows, tmp_path)
    [row] = list(csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text())))
    assert row["id"] == '\'=HYPERLINK("http://x")' and row["instruction"] == "'+1" and row["reply"] == "'@SUM(A1)"
    assert row["score"] == "-1.5"  # numbers stay numbers
    assert read_jsonl(tmp_path / "results.jsonl") == rows  # the exact values


def test_a_failing_chart_is_a_warning_and_the_results_stand(tmp_path, restore_environ, monkeypatch):
    monkeypatch.setattr(plots, "score_histogram", lambda *a, **k: (_ for _ in ()).throw(ValueError("no font")))
    run(compose(["model=tiny", "trainer=cpu", "judge.mode=logits", "data.num_workers=0", f"out_dir={tmp_path}"]))
    log = (tmp_path / "logs" / "rank-0.log").read_text()
    assert "WARNING" in log and "no report (ValueError: no font); the results are written" in log
    assert len(read_jsonl(tmp_path / "results.jsonl")) == len(DEMO_MANIFEST.read_text().splitlines())
    assert (tmp_path / "files.json").exists() and not (tmp_path / "report.html").exists()


def test_a_full_disk_is_one_line(tmp_path, monkeypatch):
    from evaluator.results import writing

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writing.Path, "open", full)
    with pytest.raises(OutputError, match=r"cannot write .*results\.jsonl: No space left on device"):
        writing.write_results([{"id": "a"}], tmp_path)


@pytest.mark.slow
def test_escape_codes_in_an_id_reach_no_terminal(tmp_path):
    rows = [json.loads(x) for x in DEMO_MANIFEST.read_text().splitlines()[:2]]
    rows[0]["id"] = "\x1b]0;pwned\x07\x1b[2J\x1b[31mfake ERROR line\nINFO forged"
    (tmp_path / "images").mkdir()
    for r in rows:
        for k in ("source", "edited"):
            (tmp_path / r[k]).write_bytes((DEMO_MANIFEST.parent / r[k]).read_bytes())
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = run_cli(["model=tiny", "trainer=cpu", "data=manifest", f"data.path={tmp_path}/m.jsonl", "log_level=DEBUG",
                    f"out_dir={tmp_path}/out"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "\\x1b]0;pwned" in proc.stderr  # shown, not obeyed
    assert not any(line.startswith("INFO forged") for line in proc.stderr.splitlines())


def test_a_run_with_a_long_language_and_a_mathtext_category_completes_with_its_report(tmp_path, restore_environ):
    rows = [json.loads(x) for x in DEMO_MANIFEST.read_text().splitlines()[:3]]
    rows[0]["language"] = "l" * 300  # once too long a file name for summary_language-<value>.csv
    rows[1]["category"] = "$\\undefinedmacro$"  # once parsed as mathtext by the chart
    (tmp_path / "images").mkdir()
    for r in rows:
        for k in ("source", "edited"):
            (tmp_path / r[k]).write_bytes((DEMO_MANIFEST.parent / r[k]).read_bytes())
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    run(compose(["model=tiny", "trainer=cpu", "judge.mode=logits", "data=manifest", f"data.path={tmp_path}/m.jsonl",
                 "data.num_workers=0", f"out_dir={out}"]))  # fmt: skip
    assert (out / "report.html").exists() and (out / "plot_categories.png").exists()
    assert all(len(p.name) < 80 for p in out.iterdir())
    assert "$\\undefinedmacro$" in (out / "summary.md").read_text()
