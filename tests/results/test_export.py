"""The export is read back the way each benchmark's own statistics step reads it, and must give our headline."""

import csv
import json
import math

import pytest
from omegaconf import OmegaConf

from evaluator.config.compose import compose
from evaluator.export import main
from evaluator.judge.stage import run
from evaluator.results.export import export, export_gedit
from evaluator.results.headline import GEDIT_TYPES, IMGEDIT_TYPES
from evaluator.runtime.errors import ConfigError

from ..conftest import read_jsonl
from ..fixtures import make_gedit, make_imgedit
from ..results.test_headline import GEDIT_EN_FULL, _gedit_rows


def gedit_statistics(folder, model: str, language: str) -> dict:
    """What GEdit-Bench's calculate_statistics.py computes from its per-type CSVs, for one language: per type the
    mean of SC, PQ and sqrt(SC * PQ) (NaN for a type without rows), then the plain mean over the 11 types; the
    same over the rows whose intersection_exist is true."""
    per_type = {"full": {}, "intersection": {}}
    for task in GEDIT_TYPES:
        with open(folder / f"{model}_{task}_gpt_score.csv", newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if r["instruction_language"] == language]
        for subset in per_type:
            kept = [r for r in rows if subset == "full" or r["intersection_exist"] == "True"]
            sc = [float(r["sementics_score"]) for r in kept]
            pq = [float(r["quality_score"]) for r in kept]
            o = [math.sqrt(a * b) for a, b in zip(sc, pq, strict=True)]
            per_type[subset][task] = [sum(x) / len(x) if x else math.nan for x in (sc, pq, o)]
    return {
        subset: dict(zip(("SC", "PQ", "O"), [sum(v[i] for v in types.values()) / 11 for i in range(3)], strict=True))
        for subset, types in per_type.items()
    }


def _same(ours, theirs) -> bool:
    return math.isnan(theirs) if ours is None else ours == pytest.approx(theirs, abs=1e-12)


def test_gedit_export_gives_the_statistics_script_our_headline(tmp_path):
    paths = export_gedit(_gedit_rows(), "mymodel", tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"mymodel_{t}_gpt_score.csv" for t in GEDIT_TYPES)
    header = (tmp_path / "mymodel_color_alter_gpt_score.csv").read_text().splitlines()[0]
    assert header == "source_image,edited_image,instruction,sementics_score,quality_score,intersection_exist," + (
        "instruction_language"
    )
    en = gedit_statistics(tmp_path, "mymodel", "en")
    for c, value in GEDIT_EN_FULL.items():
        assert en["full"][c] == pytest.approx(value, abs=1e-12)
    assert en["intersection"] == {"SC": 8.0, "PQ": 2.0, "O": 4.0}
    assert math.isnan(gedit_statistics(tmp_path, "mymodel", "cn")["full"]["O"])  # text_change has no row


def _synthetic_gedit() -> list[tuple]:
    """Both languages sharing keys, 11 types, intersection flags (key 0 of each type), two missing edits."""
    rows = []
    for t in GEDIT_TYPES:
        for k in range(2):
            for lang in ("en", "cn"):
                missing = (t, k, lang) in {("ps_human", 1, "cn"), ("text_change", 0, "en")}
                rows.append((f"{t}-{k}", t, lang, k == 0, not missing))
    return rows


def test_gedit_run_scores_every_row_once_and_its_export_reproduces_the_headline(tmp_path):
    rows_in = _synthetic_gedit()
    paths = make_gedit(tmp_path / "bench", rows=rows_in)
    data = [f"data.{k}={v}" for k, v in paths.items()]
    out = tmp_path / "out"
    overrides = ["model=tiny", "trainer=cpu", "judge=viescore", "judge.mode=logits", "data=gedit", *data]
    run(compose([*overrides, "data.num_workers=0", "report=false", f"out_dir={out}"]))
    rows = read_jsonl(out / "results.jsonl")
    assert sorted(r["id"] for r in rows) == sorted(f"{k}/{lang}" for k, _, lang, _, _ in rows_in)  # each once
    assert sum(r["error"] == "missing edit" for r in rows) == 2
    assert all(r["score"] is not None for r in rows if r["error"] != "missing edit")
    headline = json.loads((out / "summary.json").read_text())["headline"]
    assert headline["protocol"] == "gedit" and headline["missing_edits"] == 2
    main([str(out), "--format", "gedit", "--out", str(tmp_path / "export")])
    for lang in ("en", "cn"):
        theirs = gedit_statistics(tmp_path / "export", "mymodel", lang)
        for subset in ("full", "intersection"):
            ours = headline["by_language"][lang][subset]
            # text_change's one English intersection sample has no edit: no headline there, NaN in theirs.
            assert ours["types"] == (10 if (lang, subset) == ("en", "intersection") else 11)
            for c in ("SC", "PQ", "O"):
                assert _same(ours[c], theirs[subset][c]), (lang, subset, c)
    assert (out / "summary.md").read_text().startswith("## Headline (GEdit-Bench protocol)")


def imgedit_type_scores(average_json, basic_edit) -> dict:
    """What ImgEdit-Bench's step 2 computes: per edit type, the mean of the samples' averages, rounded to 2."""
    scores, meta = json.loads(average_json.read_text()), json.loads(basic_edit.read_text())
    by_type: dict = {}
    for key, score in scores.items():
        by_type.setdefault(meta[key]["edit_type"], []).append(score)
    return {t: round(sum(v) / len(v), 2) for t, v in by_type.items()}


def test_imgedit_run_has_a_rubric_per_type_and_its_export_reproduces_the_headline(tmp_path):
    paths = make_imgedit(tmp_path / "bench")
    meta = {f"k{i}": {"id": "street.jpg", "prompt": f"Edit {t}.", "edit_type": t} for i, t in enumerate(IMGEDIT_TYPES)}
    meta["k9"] = {"id": "street.jpg", "prompt": "Something else.", "edit_type": "hybrid"}
    (tmp_path / "bench" / "basic_edit.json").write_text(json.dumps(meta))
    for key in meta:
        (tmp_path / "bench" / "edits" / f"{key}.png").write_bytes(
            (tmp_path / "bench" / "edits" / "i0.png").read_bytes()
        )
    data = [f"data.{k}={v}" for k, v in paths.items()]
    out = tmp_path / "out"
    overrides = ["model=tiny", "trainer=cpu", "judge=rubric5", "judge.mode=logits", "data=imgedit", *data]
    run(compose([*overrides, "data.num_workers=0", "report=false", f"out_dir={out}"]))
    log = (out / "logs" / "rank-0.log").read_text()
    assert log.count("has no rubric for") == 1 and "has no rubric for hybrid (1 samples)" in log
    headline = json.loads((out / "summary.json").read_text())["headline"]
    assert headline["types"] == 9 and headline["outside_protocol"] == {"hybrid": 1}
    main([str(out), "--format", "imgedit", "--out", str(tmp_path / "export")])
    theirs = imgedit_type_scores(tmp_path / "export" / "average_score.json", tmp_path / "bench" / "basic_edit.json")
    assert {t: theirs[t] for t in IMGEDIT_TYPES} == headline["by_type"]
    assert headline["overall"] == pytest.approx(sum(theirs[t] for t in IMGEDIT_TYPES) / 9)


def test_export_refuses_another_protocol_or_scheme(tmp_path):
    out = tmp_path / "run"
    run(compose(["model=tiny", "trainer=cpu", "judge.mode=logits", "data.num_workers=0", "report=false",
                 f"out_dir={out}"]))  # fmt: skip
    assert OmegaConf.load(out / "config.yaml").data.layout == "manifest"
    with pytest.raises(ConfigError, match="is a run of data=manifest; --format gedit needs a run of data=gedit"):
        export(out, "gedit", tmp_path / "x")
    with pytest.raises(SystemExit) as exit_:  # and from the command line, an exit code
        main([str(out), "--format", "imgedit", "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2 and not (tmp_path / "x").exists()
    with pytest.raises(ConfigError, match="has no SC and PQ scores"):
        export_gedit([{"id": "a", "score": 1.0, "category": "ps_human"}], "m", tmp_path)
