"""Agreement as each benchmark's own script prints it: on a held-out table of verdicts and labels, our figures equal
what EditReward-Bench's evaluation code and EditScore's calculate_statistics.py compute on our export.

The benchmarks' code is read from the user's copy (EVALUATOR_EDITSCORE_SOURCE: an EditScore checkout;
EVALUATOR_EDITREWARD_SOURCE: a TIGER-AI-Lab/EditReward checkout), never shipped; without one those tests skip.
"""

import ast
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evaluator.results.export import export_editreward, export_editscore
from evaluator.results.published_agreement import editreward_figures, published_agreement

EDITSCORE = os.environ.get("EVALUATOR_EDITSCORE_SOURCE")
EDITREWARD = os.environ.get("EVALUATOR_EDITREWARD_SOURCE")
# EditScore's calculate_statistics.py prints these 13 task types and their average.
TASK_TYPES = ["background_change", "color_alter", "style_change", "subject-add", "subject-remove", "subject-replace",
              "material_alter", "motion_change", "ps_human", "text_change", "tone_transfer", "extract", "compose"]  # fmt: skip
DIMENSIONS = ["prompt_following", "consistency", "overall"]


def editscore_table(seed: int = 0) -> list[dict]:
    """Pairs as a pointwise judge leaves them on EditScore's set: the people's preferred edit is A; scores on
    0-10 in steps of 0.4 (EditScore's 0-25 divided by 2.5), ties included; a few pairs without a verdict."""
    rng = random.Random(seed)
    rows = []
    for t in TASK_TYPES:
        for d in DIMENSIONS:
            for k in range(rng.randint(3, 9)):
                a, b = rng.randint(0, 25) * 0.4, rng.randint(0, 25) * 0.4
                if k == 0:
                    b = a  # a tie: wrong for EditScore
                winner = "A" if a > b else "B" if b > a else "tie"
                row = {"id": f"{t}-{d}-{k}", "category": t, "criterion": d, "human": "A", "score_a": a,
                       "score_b": b, "winner": winner, "error": None}  # fmt: skip
                if k == 1 and t == "compose":
                    row.update(winner=None, error="SC: unparseable")
                rows.append(row)
    return rows


def editreward_table(seed: int = 1) -> list[dict]:
    """Pairs as a judge leaves them on TIGER-Lab's EditReward-Bench: human A, B or tie; margins with ties."""
    rng = random.Random(seed)
    rows = []
    for n in range(300):
        human = rng.choice(["A", "B", "A", "B", "tie"])
        a, b = rng.randint(0, 10), rng.randint(0, 10)
        winner = "A" if a > b else "B" if b > a else "tie"
        rows.append({"id": f"p{n}", "category": rng.choice(["2pair", "3pair", "4pair"]), "human": human,
                     "score_a": float(a), "score_b": float(b), "winner": winner, "error": None})  # fmt: skip
    return rows


def test_editscore_headline_is_the_mean_over_task_types_not_the_pooled_share():
    rows = editscore_table()
    figures = published_agreement(rows)["editscore"]
    for d in DIMENSIONS:
        mine = [r for r in rows if r["criterion"] == d and r["winner"] is not None]
        shares = [sum(r["winner"] == "A" for r in mine if r["category"] == t) /
                  sum(r["category"] == t for r in mine) for t in TASK_TYPES]  # fmt: skip
        assert figures[d]["average"] == pytest.approx(sum(shares) / 13, abs=1e-6)
        pooled = sum(r["winner"] == "A" for r in mine) / len(mine)
        assert figures[d]["average"] != pytest.approx(pooled, abs=1e-6)  # the table is built so they differ
    assert published_agreement(rows)["left_out"] == 3


def test_editreward_figures_by_hand():
    # h: 1 A, -1 B, 0 tie; m: margins. C=2 (1/0.5, -1/-2), D=1 (1/-1), Tm=1 (-1/0), Thm=1 (0/0), Th=1 (0/3).
    h, m = [1, -1, 1, -1, 0, 0], [0.5, -2.0, -1.0, 0.0, 0.0, 3.0]
    got = editreward_figures(h, m)
    assert got["accuracy_without_ties"] == pytest.approx(2 / 4)  # C / (C + D + Tm)
    # epsilon 0: (C + Thm) / 6 = 3/6; epsilon 0.5: C=1, Tm=2, Thm=1 -> 2/6; 1: Thm=1, C=1 -> 2/6; 3: Thm=2 -> 2/6.
    assert got["accuracy_with_ties"] == pytest.approx(3 / 6) and got["epsilon"] == 0.0


def _statistics_output(result_dir: Path) -> str:
    script = Path(EDITSCORE) / "calculate_statistics.py"
    proc = subprocess.run([sys.executable, str(script), "--result_dir", str(result_dir)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(not EDITSCORE, reason="EVALUATOR_EDITSCORE_SOURCE (a checkout of EditScore) is not set")
def test_editscore_statistics_script_prints_our_figures_on_our_export(tmp_path):
    rows = editscore_table()
    export_editscore(rows, tmp_path)
    out = _statistics_output(tmp_path)
    figures = published_agreement(rows)["editscore"]
    printed = dict(re.findall(r"^(Prompt Following|Consistency|Overall): (.+)$", out, flags=re.M))
    names = {"Prompt Following": "prompt_following", "Consistency": "consistency", "Overall": "overall"}
    for label, d in names.items():
        cells = [float(x) for x in printed[label].split(" & ")]
        ours = [figures[d]["by_category"][t] for t in TASK_TYPES] + [figures[d]["average"]]
        assert cells == [round(x, 3) for x in ours]
    average = out.split("Average:")[1].splitlines()[2]
    assert average == " & ".join(f"{figures[d]['average']:.3f}" for d in DIMENSIONS)


def _editreward_functions() -> dict:
    """EditReward-Bench's accuracy functions, read from the user's copy of its evaluation script (its imports need
    its model code and a GPU stack, so only these definitions are taken, as they are)."""
    source = (Path(EDITREWARD) / "EditReward" / "evaluate" / "eval_bench.py").read_text()
    wanted = {"suff_stats", "calc_acc", "calc_accuracy_without_ties", "calc_accuracy_with_ties_for_edit_reward_bench"}
    tree = ast.parse(source)
    tree.body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    assert {n.name for n in tree.body} == wanted
    namespace: dict = {}
    exec(compile(tree, "eval_bench.py", "exec"), namespace)
    return namespace


@pytest.mark.skipif(
    not EDITREWARD, reason="EVALUATOR_EDITREWARD_SOURCE (a checkout of TIGER-AI-Lab/EditReward) is not set"
)
def test_editreward_bench_script_computes_our_figures_on_our_export(tmp_path):
    rows = editreward_table()
    rows[5].update(winner=None, error="unparseable")  # not in the export, as the script never sees one
    (path,) = export_editreward(rows, tmp_path)
    listed = json.loads(path.read_text())
    assert len(listed) == 299
    theirs = _editreward_functions()
    block = published_agreement(rows)["editreward_bench"]
    for group, figures in [(None, block), *block["by_category"].items()]:
        mine = [x for x in listed if group is None or x["category"] == group]
        h, m = [x["h"] for x in mine], [x["m"] for x in mine]
        assert figures["accuracy_without_ties"] == pytest.approx(theirs["calc_accuracy_without_ties"](h, m), abs=1e-6)
        with_ties, epsilon = theirs["calc_accuracy_with_ties_for_edit_reward_bench"](h, m)
        assert figures["accuracy_with_ties"] == pytest.approx(with_ties, abs=1e-6) and figures["epsilon"] == epsilon
