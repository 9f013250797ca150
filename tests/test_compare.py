from omegaconf import OmegaConf

from evaluator.compare import leaderboard, main
from evaluator.summary import summarize
from evaluator.writing import write_index, write_summary

from .test_summary import GEDIT_LIKE


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
