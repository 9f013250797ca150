"""The benchmarks' official protocols, with stand-in prompt files in the benchmarks' formats (their texts are
theirs: none is shipped or copied here)."""

import hashlib
import json

import pytest

from evaluator.config.compose import compose
from evaluator.judge.stage import run
from evaluator.runtime.errors import ConfigError
from evaluator.scoring import official

from ..conftest import read_jsonl
from ..fixtures import make_gedit, make_imgedit

# A stand-in for GEdit-Bench's viescore/vie_prompts.py: the constant names it has, our own texts. Its first line
# would leave a file behind if the evaluator ever imported or ran it.
VIE_PROMPTS = '''
import pathlib
pathlib.Path(__file__).with_name("executed").write_text("the prompt file was run")

_context_no_delimit = """CONTEXT: a stand-in context that costs $5 and asks for {"score": [..]}."""
_prompts_0shot_two_image_edit_rule = "RULES: two images, " "the first the original."
_prompts_0shot_tie_rule_SC = """Rate how well <instruction> was done, then <instruction> again."""
_prompts_0shot_rule_PQ = "RULES: one image; " + "rate its quality."
_unused = 3
'''
CONTEXT = 'CONTEXT: a stand-in context that costs $5 and asks for {"score": [..]}.'
SC_RULES = [
    "RULES: two images, the first the original.",
    "Rate how well <instruction> was done, then <instruction> again.",
]


def _vie_prompts(tmp_path):
    path = tmp_path / "viescore" / "vie_prompts.py"
    path.parent.mkdir()
    path.write_text(VIE_PROMPTS)
    return path


def test_constants_are_read_as_data_never_run(tmp_path):
    path = _vie_prompts(tmp_path)
    texts = official.read_constants(path)
    assert texts["_prompts_0shot_rule_PQ"] == "RULES: one image; rate its quality."
    assert texts["_prompts_0shot_two_image_edit_rule"] == SC_RULES[0]
    assert "_unused" not in texts
    assert not (path.parent / "executed").exists()
    with pytest.raises(ValueError, match="has no _nope; is it the benchmark's file"):
        official.join_parts(texts, ["_context_no_delimit", "_nope"], path)


def test_viescore_official_dry_run_composes_the_prompts_as_the_benchmark(tmp_path):
    path = _vie_prompts(tmp_path)
    data = [f"data.{k}={v}" for k, v in make_gedit(tmp_path / "bench").items()]
    out = tmp_path / "out"
    cfg = ["model=tiny", "trainer=cpu", "judge=viescore_official", f"judge.official_source={path}", "data=gedit"]
    run(compose([*cfg, *data, "dry_run=true", f"out_dir={out}"]))
    assert not (path.parent / "executed").exists()
    assert not (out / "results.jsonl").exists()  # nothing was judged
    records = read_jsonl(out / "prompts.jsonl")
    assert [(r["id"], r["judgement"]) for r in records][:2] == [("g0/en", "SC"), ("g0/en", "PQ")]
    assert len(records) == 2 * 4  # four samples with an edit, two judgements each
    sc, pq = records[0]["messages"], records[1]["messages"]
    assert [m["role"] for m in sc] == ["user"]  # no system prompt
    source, edited, text = sc[0]["content"]
    assert (source["role"], edited["role"]) == ("source", "edited")  # images first, the source first
    assert edited["path"].endswith("fullset/color_alter/en/g0.png")
    instruction = "instruction for g0"
    expected = "\n".join([CONTEXT, SC_RULES[0], SC_RULES[1].replace("<instruction>", instruction)])
    assert text == {"type": "text", "text": expected}
    [image, text] = pq[0]["content"]
    assert image["role"] == "edited" and text["text"] == CONTEXT + "\nRULES: one image; rate its quality."


def _prompts_json(tmp_path, types=("add", "remove", "background", "style")):
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps({t: f"Stand-in {t} prompt for: <edit_prompt>.\nCriterion A: 1-5" for t in types}))
    return path


def test_imgedit_official_dry_run_text_first_then_source_then_edit(tmp_path):
    data = [f"data.{k}={v}" for k, v in make_imgedit(tmp_path / "bench").items()]
    out = tmp_path / "out"
    cfg = ["model=tiny", "trainer=cpu", "judge=imgedit_official", f"judge.official_source={_prompts_json(tmp_path)}"]
    run(compose([*cfg, "data=imgedit", *data, "dry_run=true", f"out_dir={out}"]))
    records = read_jsonl(out / "prompts.jsonl")
    assert [r["id"] for r in records] == ["i0", "i1", "i2"]  # i3 has no edit
    [message] = records[1]["messages"]
    text, source, edited = message["content"]
    assert text["text"] == "Stand-in remove prompt for: Remove the cat..\nCriterion A: 1-5"
    assert source["path"].endswith("src/animals/cat.jpg") and edited["path"].endswith("edits/i1.png")


def test_imgedit_official_stops_on_a_type_its_prompts_lack(tmp_path):
    data = [f"data.{k}={v}" for k, v in make_imgedit(tmp_path / "bench").items()]
    source = _prompts_json(tmp_path, types=("add", "remove"))
    cfg = ["model=tiny", "trainer=cpu", "judge=imgedit_official", f"judge.official_source={source}", "data=imgedit"]
    with pytest.raises(ConfigError, match=r"has no prompt for the edit types background \(1\)"):
        run(compose([*cfg, *data, "dry_run=true", f"out_dir={tmp_path / 'out'}"]))


def test_official_scheme_needs_its_source(tmp_path):
    with pytest.raises(ConfigError, match=r"needs judge\.official_source="):
        from evaluator.config.checks import check_judge

        check_judge(compose(["model=tiny", "judge=viescore_official"]), checkpoint=False)
    with pytest.raises(ConfigError, match=r"as the benchmark does: judge\.mode=generate"):
        source = f"judge.official_source={_vie_prompts(tmp_path)}"
        check_judge(compose(["model=tiny", "judge=viescore_official", source, "judge.mode=logits"]), checkpoint=False)
    bad = tmp_path / "bad.py"
    bad.write_text("def (:\n")
    with pytest.raises(ConfigError, match="cannot be read as Python source"):
        check_judge(
            compose(["model=tiny", "judge=viescore_official", f"judge.official_source={bad}"]), checkpoint=False
        )


def test_viescore_official_run_counts_what_the_benchmark_would_have_filled_at_random(tmp_path):
    path = _vie_prompts(tmp_path)
    data = [f"data.{k}={v}" for k, v in make_gedit(tmp_path / "bench").items()]
    out = tmp_path / "out"
    cfg = ["model=tiny", "trainer=cpu", "judge=viescore_official", f"judge.official_source={path}", "data=gedit"]
    run(compose([*cfg, *data, "judge.max_new_tokens=8", "data.num_workers=0", "report=false", f"out_dir={out}"]))
    rows = read_jsonl(out / "results.jsonl")
    summary = json.loads((out / "summary.json").read_text())
    unparsed = [r for r in rows if r["score"] is None and r["error"] != "missing edit"]
    assert all(r["score"] is None or r["O"] == pytest.approx((r["SC"] * r["PQ"]) ** 0.5) for r in rows)
    assert summary["headline"]["unparseable"] == len(unparsed)
    assert summary["scheme"] == {"name": "viescore_official", "parser": "viescore", "official_source": str(path),
                                 "official_source_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}  # fmt: skip
    if unparsed:  # random weights: their replies are noise, and no score is ever made up for them
        assert "would have given them a random score" in (out / "summary.md").read_text()


def test_judge_api_with_an_official_per_type_prompt_needs_known_categories(tmp_path):
    from PIL import Image

    from evaluator import Judge

    source = f"judge.official_source={_prompts_json(tmp_path)}"
    judge = Judge.from_config(model="tiny", judge="imgedit_official", overrides=[source, "judge.max_new_tokens=4"])
    image = Image.new("RGB", (32, 32))
    with pytest.raises(ValueError, match=r"has no prompt for the categories \[''\]"):
        judge.score([image], [image], ["Add a hat."])
    [row] = judge.score([image], [image], ["Add a hat."], categories=["add"])
    assert row["id"] == "0" and (row["score"] is None) == (row["error"] is not None)
