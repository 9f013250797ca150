"""Agreement with people: ties of the judge and failures count wrong; the figure without ties says how many."""

from evaluator.results.agreement import agreement_markdown, agreement_of


def test_accuracy_counts_judge_ties_and_failures_wrong_and_also_leaves_ties_out():
    rows = ([{"human": "A", "winner": "A"}] * 6 + [{"human": "B", "winner": "A"}] * 2 + [{"human": "A", "winner": "tie"}]
            + [{"human": "tie", "winner": "tie"}] + [{"human": "B", "winner": None}] + [{"human": None, "winner": "A"}])  # fmt: skip
    block = agreement_of(rows)
    assert block["n"] == 11 and block["unlabelled"] == 1 and block["errors"] == 1
    assert block["accuracy"] == round(7 / 11, 6)  # 6 right, and a person's tie matched
    # EditReward-Bench's figure: the person's tie left out; the judge's tie and its failure still wrong: 6 of 10.
    assert block["ties"] == 1 and block["judge_ties"] == 1 and block["accuracy_without_ties"] == 0.6
    assert block["ci95"][0] <= block["accuracy"] <= block["ci95"][1]
    assert block["by_category"] == {}


def test_24_of_30_is_0_8_with_an_interval_and_per_category():
    rows = [{"human": "A", "winner": "A" if i >= 6 else "B", "category": "cd"[i % 2]} for i in range(30)]
    block = agreement_of(rows)
    assert block["accuracy"] == 0.8 and 0.6 < block["ci95"][0] < 0.8 < block["ci95"][1] < 0.95
    assert block["by_category"]["c"] == {"accuracy": 0.8, "ci95": block["by_category"]["c"]["ci95"], "n": 15}
    assert agreement_of(rows) == block  # the same draws every time
    text = "\n".join(agreement_markdown(block))
    assert "accuracy 0.800 (95% CI" in text and "| c | 15 | 0.800 |" in text
