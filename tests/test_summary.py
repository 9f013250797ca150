import json

import pytest

from evaluator.summary import summarize, to_markdown
from evaluator.writing import write_results, write_summary


def _rows():
    return [
        {"id": "a", "score": 8.0, "error": None, "category": "color", "language": "en"},
        {"id": "b", "score": 4.0, "error": None, "category": "color", "language": "zh"},
        {"id": "c", "score": None, "error": "unparseable", "category": "add", "language": "en"},
        {"id": "d", "score": 9.0, "error": None, "category": "add", "language": "en"},
    ]


def test_summary_values_worked_out_by_hand():
    s = summarize(_rows())
    assert (s["count"], s["scored"], s["failures"]) == (4, 3, 1)
    assert s["mean"] == pytest.approx(7.0)
    assert s["std"] == pytest.approx(((1 + 9 + 4) / 2) ** 0.5)  # sample std of 8, 4, 9
    assert (s["min"], s["max"]) == (4.0, 9.0)
    assert s["errors"] == {"unparseable": 1}
    assert s["by_category"]["color"]["mean"] == pytest.approx(6.0)
    assert s["by_category"]["add"] == {
        "count": 2, "scored": 1, "failures": 1, "mean": 9.0, "std": None, "min": 9.0, "max": 9.0,
    }  # fmt: skip
    assert s["by_language"]["en"]["mean"] == pytest.approx(8.5)


def test_all_failed_has_no_mean():
    s = summarize([{"id": "a", "score": None, "error": "unparseable"}])
    assert s["mean"] is None and s["failures"] == 1


def test_markdown_and_files(tmp_path):
    rows = _rows()
    rows[0]["category"] = "a|b"
    summary = summarize(rows)
    md = to_markdown(summary)
    assert "| **all** | 4 | 3 | 1 | 7.000 |" in md
    assert "category: a\\|b" in md and "unparseable (1)" in md
    write_results(rows, tmp_path)
    write_summary(summary, tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["scored"] == 3
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0] == "id,score,error,category,language" and len(lines) == 5
    assert [json.loads(x)["id"] for x in (tmp_path / "results.jsonl").read_text().splitlines()] == list("abcd")
    assert not list(tmp_path.glob(".*tmp*"))  # temporary files were renamed away
