"""Paired comparison of two runs on the same samples: how much each headline figure moved, and how surely.

The difference of each figure (run B minus run A) rests on the samples both runs scored; its 95% interval comes
from a paired bootstrap (the same resampled samples, within each type, for both runs), so the part of the
variance the two runs share (which samples are hard) cancels out.
"""

from __future__ import annotations

from pathlib import Path

from evaluator.results.headline import BOOTSTRAP, bootstrap_means, figure_groups, interval, macro
from evaluator.runtime.errors import ConfigError


def check_comparable(a: tuple[Path, dict, list[dict]], b: tuple[Path, dict, list[dict]], intersection: bool) -> set:
    """The ids both runs hold, if they can be compared sample by sample.

    Raises:
        ConfigError: the runs follow different protocols, or hold different samples without ``intersection``.
    """
    (dir_a, sum_a, rows_a), (dir_b, sum_b, rows_b) = a, b
    proto_a, proto_b = sum_a["headline"]["protocol"], sum_b["headline"]["protocol"]
    if proto_a != proto_b:
        raise ConfigError(f"{dir_a} follows the {proto_a} protocol and {dir_b} the {proto_b} one: not comparable")
    ids_a, ids_b = {r["id"] for r in rows_a}, {r["id"] for r in rows_b}
    if ids_a != ids_b and not intersection:
        raise ConfigError(
            f"{dir_a} and {dir_b} hold different samples ({len(ids_a - ids_b)} only in the first, "
            f"{len(ids_b - ids_a)} only in the second); pass --intersection to compare the {len(ids_a & ids_b)} "
            "they share"
        )
    return ids_a & ids_b


def paired(rows_a: list[dict], rows_b: list[dict], protocol: str, criteria: list[str], seed: int = 0) -> dict:
    """Per headline figure: B - A over the samples both scored, its paired-bootstrap 95% interval, and how many
    samples improved, worsened or tied. A figure one of whose types no sample of both runs has gets None."""
    groups_a, groups_b = figure_groups(rows_a, protocol, criteria), figure_groups(rows_b, protocol, criteria)
    out = {}
    for name in [n for n in groups_a if n in groups_b]:
        ga, gb = groups_a[name], groups_b[name]
        ids = {t: sorted(set(ga[t]) & set(gb.get(t, {}))) for t in ga}
        common_a = {t: {i: ga[t][i] for i in ids[t]} for t in ids}
        common_b = {t: {i: gb[t][i] for i in ids[t]} for t in ids}
        diffs = [common_b[t][i] - common_a[t][i] for t in ids for i in ids[t]]
        value_a, value_b = macro(common_a, protocol), macro(common_b, protocol)
        result = {"difference": None, "ci95": None, "a": value_a, "b": value_b, "n": len(diffs)}
        if value_a is not None and value_b is not None:
            draws = bootstrap_means(common_b, ids, BOOTSTRAP, seed) - bootstrap_means(common_a, ids, BOOTSTRAP, seed)
            result.update(difference=value_b - value_a, ci95=interval(draws))
        result.update(
            improved=sum(d > 0 for d in diffs), worsened=sum(d < 0 for d in diffs), tied=sum(d == 0 for d in diffs)
        )
        out[name] = result
    return out
