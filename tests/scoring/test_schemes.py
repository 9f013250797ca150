import math

import pytest

from evaluator.inputs.samples import Sample
from evaluator.results.headline import IMGEDIT_TYPES
from evaluator.runtime.errors import ConfigError
from evaluator.scoring.schemes import Scheme

from ..fixtures import judge_dict


def _load(name: str) -> dict:
    return judge_dict(name)


def test_score10_is_one_judgement_with_one_score():
    s = Scheme.from_config(_load("score10"))
    assert [j.name for j in s.judgements] == ["score"] and s.criteria == ["score"]
    assert s.combine({"score": 7.0}) == {"score": 7.0}


def test_viescore_combines_min_then_geometric_mean():
    s = Scheme.from_config(_load("viescore"))
    assert [(j.name, j.keys, j.prompt.images) for j in s.judgements] == [
        ("SC", ("editing", "overediting"), ["source", "edited"]),
        ("PQ", ("naturalness", "artifacts"), ["edited"]),  # perceptual quality sees the edit only
    ]
    out = s.combine({"editing": 8.0, "overediting": 6.0, "naturalness": 9.0, "artifacts": 4.0})
    assert out["SC"] == 6.0 and out["PQ"] == 4.0
    assert out["O"] == pytest.approx(math.sqrt(6.0 * 4.0))
    assert s.report == ("SC", "PQ", "O") and s.overall == "O"
    assert s.combine({"editing": 8.0, "overediting": None, "naturalness": 9.0, "artifacts": 4.0})["O"] is None


def test_rubric5_picks_the_rubric_by_category():
    s = Scheme.from_config(_load("rubric5"))
    assert (s.low, s.high) == (1, 5)
    remove = Sample(id="a", source="s", edited="e", instruction="Remove the dog.", category="remove")
    other = Sample(id="b", source="s", edited="e", instruction="Do it.", category="unheard-of")
    assert "area behind it is filled" in s.values(remove)["rubric"]
    assert s.values(other)["rubric"] == s.rubrics["default"]
    text = s.judgements[0].prompt.messages(remove, s.values(remove))[1]["content"][-1]["text"]
    assert "Edit type: remove" in text and "area behind it is filled" in text
    # Every ImgEdit-Bench type has its own rubric; only an unknown one falls back to the default.
    samples = [Sample(id=t, source="s", edited="e", instruction="x", category=t) for t in IMGEDIT_TYPES]
    fallback, missing = s.uncovered([*samples, other, other])
    assert fallback == {"unheard-of": 2} and not missing
    assert s.combine({"compliance": 5.0, "seamlessness": 4.0, "fidelity": 3.0})["overall"] == 4.0


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"overall": {"name": "X", "of": ["SC", "nope"], "combine": "min"}}, "unknown criteria"),
        ({"report": ["SC", "nope"]}, "report names unknown"),
        ({"mode": "vibes"}, "judge.mode"),
        ({"overall": {"name": "O", "of": ["SC", "PQ"], "combine": "median"}}, "combine is one of"),
    ],
)
def test_scheme_mistakes_fail_before_any_model_loads(change, match):
    with pytest.raises(ConfigError, match=f"^judge=viescore: .*{match}"):
        Scheme.from_config({**_load("viescore"), **change})


def test_prompt_from_a_file(tmp_path):
    (tmp_path / "p.txt").write_text('Instruction: "$instruction". Reply {"score": N}.')
    cfg = {
        **_load("score10"),
        "judgements": [{"name": "score", "user": [{"image": "edited"}, {"file": str(tmp_path / "p.txt")}]}],
    }
    s = Scheme.from_config(cfg)
    sample = Sample(id="a", source="s", edited="e", instruction="Make it red")
    assert (
        s.judgements[0].prompt.messages(sample)[1]["content"][1]["text"]
        == 'Instruction: "Make it red". Reply {"score": N}.'
    )
