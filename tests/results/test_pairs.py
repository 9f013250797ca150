"""A pair's verdict from its samples' rows: both orders must agree, failures say why, logit mode gives p_a."""

from evaluator.results.pairs import pair_rows, pairs_summary


def _order(pair, order, value, **extra):
    return {"id": f"{pair}#{order}", "pair_id": pair, "order": order, "winner": value, "score": value,
            "error": None, "human": "A", "source": "s.png", "rank": 0, **extra}  # fmt: skip


def test_both_orders_must_agree_and_are_read_in_the_datas_terms():
    rows = [_order("p", "AB", 1.0), _order("p", "BA", 0.0),  # A first wins, then A (shown second) wins: A
            _order("q", "AB", 1.0), _order("q", "BA", 1.0),  # whichever is shown first wins: a tie
            _order("r", "AB", 0.5), _order("r", "BA", 0.5)]  # fmt: skip
    got = {p["id"]: p for p in pair_rows(rows, "winner", pairwise=True)}
    assert (got["p"]["winner"], got["p"]["verdict_ab"], got["p"]["verdict_ba"], got["p"]["consistent"]) == (
        "A",
        "A",
        "A",
        True,
    )
    assert (got["q"]["winner"], got["q"]["verdict_ab"], got["q"]["verdict_ba"], got["q"]["consistent"]) == (
        "tie",
        "A",
        "B",
        False,
    )
    assert got["r"]["winner"] == "tie" and got["r"]["consistent"]
    assert got["p"]["human"] == "A" and got["p"]["source"] == "s.png" and "rank" not in got["p"]
    summary = pairs_summary(list(got.values()))
    assert summary["winners"] == {"A": 1, "B": 0, "tie": 2} and summary["consistent"] == round(2 / 3, 6)
    assert summary["first_shown_wins"] == 0.75  # of the four decided order verdicts, three went to the first shown


def test_logit_mode_averages_the_chance_that_a_is_better_over_both_orders():
    rows = [_order("p", "AB", 0.9, winner_argmax=1.0, winner_confidence=0.99),
            _order("p", "BA", 0.3, winner_argmax=0.0, winner_confidence=0.98)]  # fmt: skip
    [pair] = pair_rows(rows, "winner", pairwise=True)
    assert pair["p_a"] == 0.8 and pair["winner"] == "A"  # (0.9 + (1 - 0.3)) / 2
    assert "winner_argmax" not in pair and "winner_confidence" not in pair


def test_a_failed_or_skipped_sample_leaves_its_pair_without_a_winner_and_says_why():
    rows = [_order("p", "AB", 1.0), {**_order("p", "BA", None), "error": "unparseable"},
            {**_order("q", "BA", None), "error": "skipped: image not found"}]  # fmt: skip
    got = pair_rows(rows, "winner", pairwise=True)
    assert [(p["id"], p["winner"], p["error"]) for p in got] == [
        ("p", None, "unparseable"),
        ("q", None, "skipped: image not found"),
    ]
    assert pairs_summary(got)["undecided"] == 2


def test_a_pointwise_judge_derives_the_verdict_from_the_scores():
    def edit(pair, c, score):
        return {"id": f"{pair}#{c}", "pair_id": pair, "candidate": c, "score": score, "error": None}

    rows = [edit("p", "A", 7), edit("p", "B", 3), edit("q", "A", 5), edit("q", "B", 5), edit("r", "A", 2),
            {**edit("r", "B", None), "error": "unparseable"}]  # fmt: skip
    got = pair_rows(rows, "score", pairwise=False)
    assert [(p["id"], p["winner"], p["score_a"], p["score_b"]) for p in got] == [
        ("p", "A", 7, 3),
        ("q", "tie", 5, 5),
        ("r", None, 2, None),
    ]
    assert "consistent" not in pairs_summary(got)
