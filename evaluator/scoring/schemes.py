"""Judging schemes as data: what the judge is asked, which scores each reply holds, and how they combine.

A scheme (``conf/judge/*.yaml``) has one or more *judgements*: one model call per sample each, with its own
prompt and the score keys its reply holds. A judgement's keys combine into its criterion (``combine``), and the
criteria into the overall score (``overall``). Every key, judgement and the overall is a named criterion of the
result rows; ``report`` lists those the tables show.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from evaluator.config.schema import JudgeConfig
from evaluator.runtime.errors import ConfigError
from evaluator.scoring.prompts import Prompt

COMBINE = {
    "min": min,
    "max": max,
    "mean": statistics.fmean,
    # A benchmark's own parser checks no range, so a negative score can reach here: it has no geometric mean.
    "geometric_mean": lambda xs: math.prod(xs) ** (1 / len(xs)) if math.prod(xs) >= 0 else None,
    "first": lambda xs: xs[0],
}


@dataclass(frozen=True)
class Judgement:
    """One model call per sample: its prompt, the score keys its reply holds, and how they combine."""

    name: str
    prompt: Prompt
    keys: tuple[str, ...]
    combine: str


@dataclass(frozen=True)
class Scheme:
    """A judging scheme; see the module docstring."""

    name: str
    mode: str
    low: float
    high: float
    judgements: tuple[Judgement, ...]
    overall: str
    overall_of: tuple[str, ...]
    overall_combine: str
    report: tuple[str, ...]
    rubrics: Mapping[str, str]
    logits_prefix: str
    retries: int
    retry_temperature: float
    parser: str = "default"
    samples: int = 1
    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int = 0
    reported_high: float | None = None
    max_new_tokens: int | None = None
    labels: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Mapping) -> Scheme:
        """Read and check a judge config (its defaults from ``schema.JudgeConfig``); every mistake is reported
        here, before any model loads.

        Raises:
            ConfigError: naming the scheme and what is wrong in it.
        """
        try:
            cfg = OmegaConf.merge(OmegaConf.structured(JudgeConfig), cfg)
            return cls._from_typed(cfg)
        except (ValueError, KeyError, TypeError, OSError, OmegaConfBaseException) as e:
            raise ConfigError(f"judge={cfg.get('name', '?')}: {str(e).splitlines()[0]}") from None

    @classmethod
    def _from_typed(cls, cfg) -> Scheme:
        judgements = []
        for j in cfg["judgements"]:
            keys = tuple(j.get("keys") or [j["name"]])
            combine = j.get("combine", "first")
            _check_combine(combine, f"judgement {j['name']!r}")
            prompt = Prompt.from_config({"system": j.get("system", cfg.system), "user": j["user"]}, cfg.official_source)
            judgements.append(Judgement(j["name"], prompt, keys, combine))
        overall = cfg.overall or {"name": judgements[0].name}
        if isinstance(overall, str):
            overall = {"name": overall}
        overall_of = tuple(overall.get("of") or ())
        overall_combine = overall.get("combine", "first")
        _check_combine(overall_combine, "overall")
        names = [k for j in judgements for k in j.keys] + [j.name for j in judgements]
        unknown = [n for n in overall_of if n not in names]
        if not overall_of and overall["name"] not in names:
            unknown.append(overall["name"])
        if unknown:
            raise ValueError(f"overall refers to unknown criteria {unknown}")
        scheme = cls(
            name=cfg.name,
            mode=cfg.mode,
            low=cfg.scale.min,
            high=cfg.scale.max,
            judgements=tuple(judgements),
            overall=str(overall["name"]),
            overall_of=overall_of,
            overall_combine=overall_combine,
            report=tuple(cfg.report or [overall["name"]]),
            rubrics=dict(cfg.rubrics),
            logits_prefix=cfg.logits_prefix,
            retries=cfg.retries,
            retry_temperature=cfg.retry_temperature,
            parser=cfg.parser,
            samples=cfg.samples,
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            top_k=cfg.top_k,
            reported_high=cfg.scale.reported_max,
            max_new_tokens=cfg.max_new_tokens,
            labels=dict(cfg.labels),
        )
        if scheme.mode not in ("generate", "logits"):
            raise ValueError(f"judge.mode is generate or logits, not {scheme.mode!r}")
        _check_sampling(scheme)
        if scheme.samples > 1 and scheme.mode == "logits":
            raise ValueError(
                f"judge.samples={scheme.samples} averages sampled replies; logit mode is deterministic and its "
                "expected score already averages over the scale: judge.mode=generate for a self-ensemble"
            )
        if scheme.parser != "default" and scheme.mode == "logits":
            raise ValueError(
                f"judge.parser={scheme.parser} reads written replies, as the benchmark does: judge.mode=generate"
            )
        _check_labels(scheme)
        missing = [c for c in scheme.report if c not in scheme.criteria]
        if missing:
            raise ValueError(f"report names unknown criteria {missing}")
        return scheme

    @property
    def pairwise(self) -> bool:
        """Whether the judge compares two edits in one prompt (a ``second`` image in some judgement's prompt)."""
        return any("second" in j.prompt.images for j in self.judgements)

    @property
    def criteria(self) -> list[str]:
        """Every named score of a row: each key, each judgement, then the overall (no repeats)."""
        names = [k for j in self.judgements for k in j.keys] + [j.name for j in self.judgements] + [self.overall]
        return list(dict.fromkeys(names))

    def values(self, sample) -> dict:
        """Template values for this sample's prompts: the sample's fields and the rubric for its category."""
        rubric = self.rubrics.get(sample.category or "", self.rubrics.get("default", ""))
        return {"rubric": rubric}

    def uncovered(self, samples) -> tuple[Counter, Counter]:
        """Samples per category that fall back to the default rubric, and per category that an official
        per-category prompt has no text for (such samples cannot be judged under it)."""
        categories = Counter(s.category or "" for s in samples)
        fallback = Counter({c: n for c, n in categories.items() if self.rubrics and c not in self.rubrics})
        known = [j.prompt.categories for j in self.judgements if j.prompt.categories is not None]
        missing = Counter({c: n for c, n in categories.items() if known and any(c not in k for k in known)})
        return fallback, missing

    def combine(self, key_scores: Mapping[str, float | None]) -> dict[str, float | None]:
        """All criteria of one sample from its key scores; any missing input makes its combination None."""
        out = dict(key_scores)
        for j in self.judgements:
            out[j.name] = _combine(j.combine, [key_scores.get(k) for k in j.keys])
        if self.overall_of:
            out[self.overall] = _combine(self.overall_combine, [out.get(n) for n in self.overall_of])
        return {c: out.get(c) for c in self.criteria}


def _check_sampling(scheme: Scheme) -> None:
    if scheme.samples < 1 or not scheme.temperature > 0:
        raise ValueError(f"judge.samples is at least 1 and judge.temperature above 0, not {scheme.samples} and "
                         f"{scheme.temperature}")  # fmt: skip
    if not 0 < scheme.top_p <= 1 or scheme.top_k < 0:
        raise ValueError(f"judge.top_p is in (0, 1] and judge.top_k at least 0, not {scheme.top_p} and {scheme.top_k}")
    if scheme.reported_high is not None and not scheme.reported_high > scheme.low:
        raise ValueError(f"scale.reported_max is above scale.min, not {scheme.reported_high}")


def _check_labels(scheme: Scheme) -> None:
    if not scheme.labels:
        return
    words = [w.strip().lower() for w in scheme.labels]
    if len(set(words)) != len(words) or "" in words:
        raise ValueError(f"labels are distinct words, not {list(scheme.labels)}")
    outside = [w for w, v in scheme.labels.items() if not scheme.low <= v <= scheme.high]
    if outside:
        raise ValueError(f"labels {outside} have values outside the scale {scheme.low:g}..{scheme.high:g}")
    if scheme.parser != "default":
        raise ValueError(f"labels are read by the default parser, not judge.parser={scheme.parser}")


def _check_combine(name: str, where: str) -> None:
    if name not in COMBINE:
        raise ValueError(f"{where}: combine is one of {sorted(COMBINE)}, not {name!r}")


def _combine(how: str, values: list[float | None]) -> float | None:
    """The combination, or None where an input is missing or the result is no finite number (a benchmark's parser
    checks no range, so ``[1e308, 1e308]`` reaches here and its geometric mean overflows)."""
    if not values or any(v is None or not math.isfinite(v) for v in values):
        return None
    try:
        value = COMBINE[how](values)
    except OverflowError:
        return None
    return None if value is None or not math.isfinite(value) else float(value)
