"""One sample's result row, the same for every backend (the local judge and a judge on a server): the parts a
scorer fills (scores by key, errors and replies by judgement, extra columns), and the row made from them.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

from evaluator.scoring.benchmark_parsers import KEYED_PARSERS, OFFICIAL_PARSERS
from evaluator.scoring.parsing import (
    THINKING_CUT,
    UNPARSEABLE,
    Parsed,
    in_range,
    parse_labels,
    parse_scores,
    split_thinking,
)
from evaluator.scoring.schemes import PER_ITEM_UNDEFINED, Scheme

NOT_FINITE = "not a finite number"


@dataclass(frozen=True)
class ScoreDistribution:
    """One row's scores: ``expected`` = sum p(k) k over the valid scores renormalised; ``confidence`` = the mass
    that fell on valid scores; ``argmax`` = the most probable score."""

    expected: float
    argmax: int
    confidence: float
    probs: dict[int, float]


def new_parts() -> dict:
    """One sample's scores by key, errors, replies and thinking traces by judgement, and extra columns, as scorers
    fill them."""
    return {"scores": {}, "errors": {}, "responses": {}, "thinking": {}, "extra": {}}


def add_reply(parts: dict, judgement: str, reply: str, parsed: dict) -> None:
    """A judgement's reply and what was read from it (``{key: Parsed}``) into a sample's parts; a thinking trace
    is kept apart from the answer (``parsing.split_thinking``)."""
    thought = split_thinking(reply)
    if thought.trace is not None:
        parts["thinking"][judgement] = thought.trace
        reply = thought.answer
    parts["responses"][judgement] = reply
    parts["scores"].update({k: v.score for k, v in parsed.items()})
    errors = [f"{k}: {v.error}" if len(parsed) > 1 else v.error for k, v in parsed.items() if v.error]
    if errors:
        parts["errors"][judgement] = "; ".join(errors)


def reply_seed(run_seed: int, k: int, sample_id: str, judgement: str) -> int:
    """The seed of a self-ensemble's ``k``-th reply to one judgement of one sample: the same on a rerun, a resume
    and any number of ranks."""
    return zlib.crc32(f"{run_seed}:sample{k}:{sample_id}:{judgement}".encode())


def add_samples(parts: dict, judgement: str, replies: list[str], parsed: list[dict]) -> None:
    """A self-ensemble's replies to one judgement (``judge.samples``) into a sample's parts: each key's mean over
    the replies it was read from, each reply's score (``<key>_samples``, None where it was not read), the replies
    (and their traces) as lists, and how many replies held no score (``samples_unparsed``). A reply without a
    score is left out of the mean, never filled in; none with one: the first reply's error."""
    merged = {}
    for key in parsed[0]:
        scores = [p[key].score for p in parsed]
        read = [s for s in scores if s is not None]
        merged[key] = Parsed(round(sum(read) / len(read), 6)) if read else parsed[0][key]
        parts["extra"][f"{key}_samples"] = scores
    parts["extra"]["samples_unparsed"] = parts["extra"].get("samples_unparsed", 0) + sum(
        any(v.score is None for v in p.values()) for p in parsed
    )
    thoughts = [split_thinking(r) for r in replies]
    add_reply(parts, judgement, "", merged)
    parts["responses"][judgement] = [t.answer for t in thoughts]
    if any(t.trace is not None for t in thoughts):
        parts["thinking"][judgement] = [t.trace for t in thoughts]


def add_distribution(parts: dict, key: str, dist) -> None:
    """A key's score distribution (logit mode) into a sample's parts: the expected score, argmax, confidence; a
    distribution that is no finite number (NaN logits of an overflowing half-precision judge) is an error."""
    if not (math.isfinite(dist.expected) and math.isfinite(dist.confidence)):
        parts["scores"][key] = None
        parts["errors"][key] = NOT_FINITE
        return
    parts["scores"][key] = round(dist.expected, 6)
    parts["extra"][f"{key}_argmax"] = dist.argmax
    parts["extra"][f"{key}_confidence"] = round(dist.confidence, 6)


def parse_reply(scheme: Scheme, reply: str, keys: tuple[str, ...]) -> dict:
    """The scores of one judgement's reply, by key, read by the scheme's parser from the answer after any thinking
    trace; a trace the token limit cut short is an error that says so."""
    thought = split_thinking(reply)
    if thought.cut:
        return {k: Parsed(None, THINKING_CUT) for k in keys}
    reply = thought.answer
    # The benchmarks' parsers check no range; a score off the scale (1e308, -3) is counted, never averaged.
    if scheme.parser in OFFICIAL_PARSERS:  # one score per judgement, read as the benchmark reads it
        parsed = {keys[0]: OFFICIAL_PARSERS[scheme.parser](reply)}
    elif scheme.parser in KEYED_PARSERS:
        parsed = KEYED_PARSERS[scheme.parser](reply, keys)
    else:
        parsed = None
    if parsed is not None:
        return {k: v if v.score is None else in_range(v.score, scheme.low, scheme.high) for k, v in parsed.items()}
    if scheme.labels:
        return parse_labels(reply, keys, dict(scheme.labels))
    return parse_scores(reply, keys, scheme.low, scheme.high)


def result_row(scheme: Scheme, parts: dict, item: dict | None = None) -> dict:
    """One sample's result columns from its ``parts`` ({"scores", "errors", "responses", "extra"}): overall score
    and error, every criterion, replies, per-judgement errors. Scores asked on another range than they are reported
    on (``scale.reported_max``) are rescaled here; a self-ensemble's criteria are the mean of each reply's. ``item``:
    the sample's data fields (``Sample.item``), which a benchmark's own arithmetic reads."""
    parts = _reported(scheme, parts)
    ensemble = scheme.samples > 1
    criteria = _ensemble_criteria(scheme, parts, item) if ensemble else scheme.combine(parts["scores"], item)
    score = criteria[scheme.overall]
    single = len(scheme.judgements) == 1
    errors = parts["errors"]
    error = None
    if score is None:
        # No error recorded and every key scored, yet no overall score: their combination is no finite number.
        combined = bool(parts["scores"]) and all(v is not None for v in parts["scores"].values())
        undefined = PER_ITEM_UNDEFINED.get(scheme.overall_combine, NOT_FINITE)
        error = "; ".join(e if single else f"{j}: {e}" for j, e in errors.items()) or (
            undefined if combined else UNPARSEABLE
        )
    row = {"score": score, "error": error}
    if list(criteria) != ["score"]:
        row.update(criteria)
    for j, text in parts["responses"].items():
        row["response" if single else f"response.{j}"] = text
    for j, text in parts.get("thinking", {}).items():
        row["thinking" if single else f"thinking.{j}"] = text
    if not single:
        row.update({f"error.{j}": errors.get(j) for j in (x.name for x in scheme.judgements)})
    row.update(parts["extra"])
    return row


def _reported(scheme: Scheme, parts: dict) -> dict:
    """``parts`` with every key score (each sample's too, and an argmax) on the reported range: EditScore asks
    0-25 and reports ``score / 2.5``."""
    if scheme.reported_high is None:
        return parts
    scale = (scheme.reported_high - scheme.low) / (scheme.high - scheme.low)

    def rescale(v):
        return None if v is None else round(scheme.low + (v - scheme.low) * scale, 6)

    keys = {k for j in scheme.judgements for k in j.keys}
    extra = dict(parts["extra"])
    for k in keys:
        if isinstance(extra.get(f"{k}_samples"), list):
            extra[f"{k}_samples"] = [rescale(v) for v in extra[f"{k}_samples"]]
        if f"{k}_argmax" in extra:
            extra[f"{k}_argmax"] = rescale(extra[f"{k}_argmax"])
    return {**parts, "scores": {k: rescale(v) for k, v in parts["scores"].items()}, "extra": extra}


def _ensemble_criteria(scheme: Scheme, parts: dict, item: dict | None) -> dict:
    """A self-ensemble's criteria: each criterion computed from each reply's key scores, then averaged over the
    replies that gave it (EditScore's Avg@K: the mean of each pass's overall, not the overall of the means). A key's
    mean is the mean of its replies' scores, as ``add_samples`` wrote it."""
    keys = [k for j in scheme.judgements for k in j.keys]
    listed = {k: parts["extra"].get(f"{k}_samples") for k in keys}
    if not all(isinstance(v, list) for v in listed.values()):  # an error before any reply: nothing to average
        return scheme.combine(parts["scores"], item)
    replies = min(len(v) for v in listed.values())
    per_reply = [scheme.combine({k: listed[k][i] for k in keys}, item) for i in range(replies)]
    out = {}
    for c in scheme.criteria:
        values = [r[c] for r in per_reply if r[c] is not None]
        out[c] = parts["scores"].get(c) if c in keys else round(sum(values) / len(values), 6) if values else None
    return out
