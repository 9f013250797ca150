import pytest
from omegaconf import OmegaConf

from evaluator.compare import main
from evaluator.results.compare import labels, leaderboard, paired_table
from evaluator.results.summary import summarize
from evaluator.results.writing import write_index, write_results, write_summary
from evaluator.runtime.errors import ConfigError

from ..results.test_summary import GEDIT_LIKE


def _run(folder, rows, model_name=None):
    folder.mkdir()
    written = write_summary(summarize(rows, ["SC", "PQ", "O"], ["SC", "PQ"]), folder)
    if model_name:
        OmegaConf.save({"data": {"model_name": model_name}}, folder / "config.yaml")
    write_index(folder, written)
    return folder


def test_leaderboard_rows_per_run_columns_per_category(tmp_path, capsys):
    better = [{**r, "O": r["O"] + 1 if r["O"] is not None else None} for r in GEDIT_LIKE]
    a = _run(tmp_path / "a", GEDIT_LIKE, model_name="model-a")
    b = _run(tmp_path / "b", better)
    header, rows = leaderboard([a, b])
    assert header == ["run", "criterion", "bg", "color", "macro avg", "micro avg", "n"]
    assert rows[0] == ["model-a", "O", 3.0, 5.0, 4.0, 13 / 3, 5]
    assert rows[1][:5] == ["b", "O", 4.0, 6.0, 5.0]
    main([str(a), str(b), "--criterion", "SC", "--subset", "language=en", "--csv", str(tmp_path / "lb.csv")])
    out = capsys.readouterr().out
    assert "| model-a | SC | 9.000 | 8.000 | 8.500 | 8.500 | 3 |" in out
    assert (tmp_path / "lb.csv").read_text().splitlines()[1] == "model-a,SC,9.0,8.0,8.5,8.5,3"


def _full_run(folder, rows):
    """A finished run's folder with results and summary (under the manifest protocol)."""
    folder.mkdir()
    written = write_results(rows, folder) + write_summary(summarize(rows, ["score"], ["score"], "score"), folder)
    OmegaConf.save({"data": {"layout": "manifest"}}, folder / "config.yaml")
    write_index(folder, [*written, folder / "config.yaml"])
    return folder


def _rows(shift=0.0, ids=range(8)):
    return [{"id": f"s{i}", "category": "AB"[i % 2], "score": float(i % 4) + shift * (i % 3 > 0), "error": None}
            for i in ids]  # fmt: skip


def test_paired_comparison_of_two_runs_on_the_same_samples(tmp_path, capsys):
    a = _full_run(tmp_path / "a", _rows())
    b = _full_run(tmp_path / "b", _rows(shift=1.0))  # better on 5 of the 8 samples, the same on 3
    [(label, name, diff, ci, up, down, tied)] = paired_table([a, b])
    assert (label, name) == ("b", "macro/score")
    # Category A: ids 0 2 4 6 (+0, +1, +1, +0); B: 1 3 5 7 (+1, +0, +1, +1): means move by 0.5 and 0.75.
    assert diff == pytest.approx((0.5 + 0.75) / 2)
    assert ci[0] <= diff <= ci[1] and ci[0] >= 0  # every resample improves or ties
    assert (up, down, tied) == (5, 0, 3)
    main([str(a), str(b)])
    out = capsys.readouterr().out
    assert out.startswith("| run | protocol | macro/score | n |")
    assert "Paired differences from a" in out and "| b | macro/score | +0.625 |" in out


def test_runs_of_different_samples_are_refused_unless_asked_for_their_intersection(tmp_path):
    a = _full_run(tmp_path / "a", _rows())
    b = _full_run(tmp_path / "b", _rows(shift=1.0, ids=range(2, 10)))
    with pytest.raises(ConfigError, match=r"hold different samples \(2 only in the first, 2 only in the second\); "):
        paired_table([a, b])
    [(_, _, diff, _, up, down, tied)] = paired_table([a, b], intersection=True)
    assert up + down + tied == 6 and down == 0 and diff > 0
    with pytest.raises(SystemExit) as exit_:
        main([str(a), str(b)])
    assert exit_.value.code == 2


def test_runs_of_one_editor_by_two_judges_get_labels_of_their_own(tmp_path):
    a = _run(tmp_path / "judge-a", GEDIT_LIKE, model_name="editor")
    b = _run(tmp_path / "judge-b", GEDIT_LIKE, model_name="editor")
    _, rows = leaderboard([a, b], "O")
    assert [r[0] for r in rows] == ["editor (judge-a)", "editor (judge-b)"]


def test_default_runs_are_labelled_by_what_differs_and_the_html_has_the_paired_table(tmp_path):
    """Issue 19, trap 6: default runs are all ``tiny-score10``; the legend showed identical labels."""
    runs = []
    for data, mode in (("one", "generate"), ("two", "logits")):
        (tmp_path / data).mkdir()
        folder = _full_run(tmp_path / data / "tiny-score10", _rows(shift=1.0 if mode == "logits" else 0.0))
        cfg = {"data": {"layout": "manifest", "path": str(tmp_path / data / "pairs.jsonl")},
               "model": {"name_or_path": "tiny:qwen3_vl"}, "judge": {"name": "score10", "mode": mode}}  # fmt: skip
        OmegaConf.save(cfg, folder / "config.yaml")
        write_index(folder, [folder / n for n in ("results.jsonl", "summary.json", "config.yaml")])
        runs.append(folder)
    names = labels(runs)
    assert len(set(names.values())) == 2
    first, second = (names[r] for r in runs)
    assert first.startswith("tiny-score10 (data=manifest-one-pairs-") and first.endswith(", mode=generate)")
    assert second.startswith("tiny-score10 (data=manifest-two-pairs-") and second.endswith(", mode=logits)")
    main([str(r) for r in runs] + ["--html", str(tmp_path / "board.html")])
    html = (tmp_path / "board.html").read_text()
    assert 'id="paired"' in html and "Paired differences from" in html and "mode=logits" in html
