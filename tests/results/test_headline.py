import math

import pytest

from evaluator.results.headline import GEDIT_TYPES, IMGEDIT_TYPES, headline
from evaluator.results.summary import summarize, summary_markdown


def _gedit_rows() -> list[dict]:
    """Hand-made GEdit-Bench rows over the 11 types, worked out in ``test_gedit_headline_by_hand``.

    English: per type one intersection sample (SC 8, PQ 2, O 4) and one other (SC 9, PQ 1, O 3), except that
    tone_transfer's other sample has no edit. Chinese: one sample per type (6, 6, 6), outside the intersection;
    text_change's reply did not parse.
    """
    rows = []
    for t in GEDIT_TYPES:
        rows.append({"id": f"{t}-a/en", "category": t, "language": "en", "intersection": True,
                     "SC": 8.0, "PQ": 2.0, "O": 4.0, "score": 4.0, "error": None})  # fmt: skip
        if t == "tone_transfer":
            rows.append({"id": f"{t}-b/en", "category": t, "language": "en", "intersection": False,
                         "score": None, "error": "missing edit"})  # fmt: skip
        else:
            rows.append({"id": f"{t}-b/en", "category": t, "language": "en", "intersection": False,
                         "SC": 9.0, "PQ": 1.0, "O": 3.0, "score": 3.0, "error": None})  # fmt: skip
        if t == "text_change":
            rows.append({"id": f"{t}-a/cn", "category": t, "language": "cn", "intersection": False,
                         "SC": None, "PQ": 6.0, "O": None, "score": None, "error": "SC: unparseable"})  # fmt: skip
        else:
            rows.append({"id": f"{t}-a/cn", "category": t, "language": "cn", "intersection": False,
                         "SC": 6.0, "PQ": 6.0, "O": 6.0, "score": 6.0, "error": None})  # fmt: skip
    return rows


GEDIT_EN_FULL = {"SC": (10 * 8.5 + 8) / 11, "PQ": (10 * 1.5 + 2) / 11, "O": (10 * 3.5 + 4) / 11}


def test_gedit_headline_by_hand():
    h = headline(_gedit_rows(), "gedit", ["SC", "PQ", "O"], parser="viescore")
    assert h["protocol"] == "gedit" and h["types_expected"] == 11
    en = h["by_language"]["en"]
    for c, value in GEDIT_EN_FULL.items():
        assert en["full"][c] == pytest.approx(value, abs=1e-12)
    assert en["full"]["types"] == 11 and en["full"]["n"] == 21
    assert (en["intersection"]["SC"], en["intersection"]["PQ"], en["intersection"]["O"]) == (8.0, 2.0, 4.0)
    assert en["full"]["by_type"]["tone_transfer"] == {"SC": 8.0, "PQ": 2.0, "O": 4.0}
    # Chinese: text_change has no scored sample, so there is no headline, and it says how many types counted.
    cn = h["by_language"]["cn"]
    assert cn["full"]["O"] is None and cn["full"]["types"] == 10
    assert cn["intersection"]["O"] is None and cn["intersection"]["types"] == 0
    assert h["figures"]["cn/full/O"]["empty_types"] == ["text_change"]
    assert (h["missing_edits"], h["unscored"], h["unparseable"]) == (1, 1, 1)
    # English intersection: one sample per type, so no standard error; full: tone_transfer has one sample.
    assert en["full"]["se"]["O"] is None
    assert en["intersection"]["ci95"]["O"] is None


def test_gedit_headline_comes_first_in_the_summary_and_says_what_is_missing():
    s = summarize(_gedit_rows(), ["SC", "PQ", "O"], ["SC", "PQ"], "O", protocol="gedit", parser="viescore")
    md = summary_markdown(s)
    assert md.startswith("## Headline (GEdit-Bench protocol)")
    assert md.splitlines()[2] == "| subset | SC | PQ | O | types | n |"
    assert md.splitlines()[4].startswith(f"| en/full | {GEDIT_EN_FULL['SC']:.3f}")  # English first, as papers
    assert "| cn/full | – | – | – | 10/11 | 10 |" in md
    assert md.count("No headline for cn/full: 1 of 11 types have no scored sample (text_change)") == 1
    assert "1 samples have no edited image" in md
    assert "GEdit-Bench's own script would have given them a random score" in md


def test_imgedit_headline_rounds_as_the_benchmark_and_averages_the_nine_types():
    values = {"add": [13 / 3, 4.0], "adjust": [1.0, 2.0]}  # step 1: 4.33 and 4.0; step 2: 4.165 -> 4.17
    rows = []
    for t in IMGEDIT_TYPES:
        for i, v in enumerate(values.get(t, [5.0])):
            rows.append({"id": f"{t}{i}", "category": t, "overall": v, "score": v, "error": None})
    rows.append({"id": "h", "category": "hybrid", "overall": 1.0, "score": 1.0, "error": None})
    h = headline(rows, "imgedit", ["compliance", "overall"])
    assert h["by_type"]["add"] == 4.17 and h["by_type"]["adjust"] == 1.5 and h["by_type"]["style"] == 5.0
    assert h["overall"] == pytest.approx((4.17 + 1.5 + 7 * 5.0) / 9)
    assert h["types"] == 9 and h["criteria"] == ["overall"]
    assert h["outside_protocol"] == {"hybrid": 1}  # not in the headline, and said so


def test_manifest_headline_macro_standard_error_and_seeded_interval():
    rows = [{"id": f"a{v}", "category": "A", "score": float(v)} for v in (1, 3)]
    rows += [{"id": f"b{v}", "category": "B", "score": float(v)} for v in (2, 4, 6)]
    h = headline(rows, "manifest", ["score"])
    assert h["macro"] == 3.0 and h["types"] == 2
    assert h["se"] == pytest.approx(math.sqrt(2 / 2 + 4 / 3) / 2)  # each type's variance / n, over 2 types
    low, high = h["ci95"]
    assert 1.5 <= low < 3.0 < high <= 4.5
    assert headline(rows, "manifest", ["score"])["ci95"] == h["ci95"]  # seeded: the same every time


def test_gedit_headline_takes_any_language_name():
    rows = [{**r, "language": "zh/tw\x1b[31m"} for r in _gedit_rows() if r["language"] == "en"]
    h = headline(rows, "gedit", ["SC", "PQ", "O"])
    assert h["by_language"]["zh/tw\x1b[31m"]["full"]["O"] == pytest.approx(GEDIT_EN_FULL["O"])
    md = summary_markdown(summarize(rows, ["SC", "PQ", "O"], ["SC", "PQ"], "O", protocol="gedit"))
    assert "\x1b" not in md
