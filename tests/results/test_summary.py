import json

import pytest

from evaluator.results.summary import summarize, summary_markdown
from evaluator.results.writing import write_results, write_summary


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
    md = summary_markdown(summary)
    assert "| **all** | 4 | 3 | 1 | 7.000 |" in md
    assert "category: a\\|b" in md and "unparseable (1)" in md
    write_results(rows, tmp_path)
    write_summary(summary, tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["scored"] == 3
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0] == "id,score,error,category,language" and len(lines) == 5
    assert [json.loads(x)["id"] for x in (tmp_path / "results.jsonl").read_text().splitlines()] == list("abcd")
    assert not list(tmp_path.glob(".*tmp*"))  # temporary files were renamed away


# A GEdit-like fixture: two task types, two languages, an intersection subset, one unparseable reply and one
# missing edit. Worked out by hand below.
GEDIT_LIKE = [
    {"id": "1", "category": "color", "language": "en", "intersection": True, "SC": 8.0, "PQ": 2.0, "O": 4.0, "score": 4.0},
    {"id": "2", "category": "color", "language": "cn", "intersection": False, "SC": 6.0, "PQ": 6.0, "O": 6.0, "score": 6.0},
    {"id": "3", "category": "bg", "language": "en", "intersection": True, "SC": 9.0, "PQ": 1.0, "O": 3.0, "score": 3.0},
    {"id": "4", "category": "bg", "language": "en", "intersection": True, "SC": None, "PQ": 4.0, "O": None, "score": None,
     "error": "SC: editing: unparseable", "error.SC": "editing: unparseable", "error.PQ": None},
    {"id": "5", "category": "bg", "language": "cn", "intersection": False, "SC": None, "PQ": None, "O": None, "score": None,
     "error": "missing edit"},
]  # fmt: skip


def test_tables_worked_out_by_hand():
    s = summarize(GEDIT_LIKE, ["SC", "PQ", "O"], ["SC", "PQ"])
    assert list(s["tables"]) == ["all", "language=cn", "language=en", "intersection", "intersection,language=en"]
    t = s["tables"]["all"]
    assert t["color"]["n"] == 2 and t["color"]["O"] == {
        "mean": 5.0,
        "se": pytest.approx(1.0),
        "n": 2,
    }  # s.d. of 4, 6 is sqrt 2
    assert t["bg"]["n"] == 3 and t["bg"]["O"] == {"mean": 3.0, "se": None, "n": 1}  # rests on the one scored sample
    assert t["bg"]["PQ"] == {"mean": 2.5, "se": pytest.approx(1.5), "n": 2}
    assert t["macro avg"]["O"] == {"mean": 4.0, "se": None, "n": 2}  # (5 + 3) / 2 categories; bg has no s.e.
    assert (
        t["micro avg"]["O"]["mean"] == pytest.approx(13 / 3) and t["micro avg"]["O"]["n"] == 3
    )  # (4 + 6 + 3) / 3 samples
    assert t["macro avg"]["SC"]["mean"] == pytest.approx((7.0 + 9.0) / 2)
    inter = s["tables"]["intersection"]
    assert inter["micro avg"]["n"] == 3 and inter["micro avg"]["O"] == {"mean": 3.5, "se": pytest.approx(0.5), "n": 2}
    assert s["tables"]["language=cn"]["micro avg"]["O"] == {"mean": 6.0, "se": None, "n": 1}
    assert s["unparseable"] == {"SC": 1, "PQ": 0}
    assert s["errors"] == {"SC: editing: unparseable": 1, "missing edit": 1}
    md = summary_markdown(s)
    assert "| **macro avg** | 5 | 8.000 (2) | 3.250 (2) | 4.000 (2) |" in md
    assert "Unparseable replies: SC (1), PQ (0)" in md


def test_per_subset_csv(tmp_path):
    write_summary(summarize(GEDIT_LIKE, ["SC", "PQ", "O"], ["SC", "PQ"]), tmp_path)
    names = sorted(p.name for p in tmp_path.glob("summary_*.csv"))
    assert names == [
        "summary_all.csv", "summary_intersection.csv", "summary_intersection_language-en.csv",
        "summary_language-cn.csv", "summary_language-en.csv",
    ]  # fmt: skip
    lines = (tmp_path / "summary_all.csv").read_text().splitlines()
    assert lines[0] == "category,n,SC,SC_se,SC_n,PQ,PQ_se,PQ_n,O,O_se,O_n"
    assert lines[-2].startswith("macro avg,5,8.0,,2,3.25,")


def test_user_and_model_text_cannot_drive_the_terminal():
    from evaluator.inputs.samples import Kind, Problem
    from evaluator.runtime.errors import DataError

    rows = [{"id": "a", "score": 1.0, "category": "\x1b[2Jred|team", "error": None}]
    md = summary_markdown(summarize(rows))
    assert "\x1b" not in md and "\\x1b[2Jred\\|team" in md
    message = str(DataError("m.jsonl", [Problem(1, "id\x1b[31m", Kind.NOT_FOUND, "edited image not found: /x\x07")]))
    assert "\x1b" not in message and "\x07" not in message and "id\\x1b[31m" in message
