"""Judging schemes as data: what the judge is asked, which scores each reply holds, and how they combine.

A scheme (``conf/judge/*.yaml``) has one or more *judgements*: one model call per sample each, with its own
prompt and the score keys its reply holds. A judgement's keys combine into its criterion (``combine``), and the
criteria into the overall score (``overall``). Every key, judgement and the overall is a named criterion of the
result rows; ``report`` lists those the tables show.

A benchmark that asks each item its own prompts (RISEBench, KRIS-Bench) gives a judgement ``variants`` instead of one
prompt: its layout names, per sample, the variant of each judgement its script would ask, or none where it asks none
(``sample.extra["variants"]``); and its overall score is the benchmark's own arithmetic (``overall.combine``
naming it, as in ``PER_ITEM``).
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
from evaluator.scoring import krisbench, risebench
from evaluator.scoring.prompts import Prompt

COMBINE = {
    "min": min,
    "max": max,
    "mean": statistics.fmean,
    # A benchmark's own parser checks no range, so a negative score can reach here: it has no geometric mean.
    "geometric_mean": lambda xs: math.prod(xs) ** (1 / len(xs)) if math.prod(xs) >= 0 else None,
    "first": lambda xs: xs[0],
}
# A benchmark's own arithmetic from one item's key scores and its data fields: (item, scores) -> criteria.
PER_ITEM = {"risebench": risebench.item_criteria, "krisbench": krisbench.kris_item_criteria}
PER_ITEM_UNDEFINED = {"risebench": risebench.UNDEFINED}  # why an item whose answers were all read has no score


@dataclass(frozen=True)
class Judgement:
    """One model call per sample: its prompt, the score keys its reply holds, and how they combine."""

    name: str
    prompt: Prompt | None  # None: the judgement has variants
    keys: tuple[str, ...]
    combine: str
    variants: Mapping[str, Prompt] = field(default_factory=dict)

    @property
    def prompts(self) -> list[Prompt]:
        """Every prompt this judgement may ask."""
        return list(self.variants.values()) if self.variants else [self.prompt]


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
        judgements = [_judgement(j, cfg) for j in cfg["judgements"]]
        overall = cfg.overall or {"name": judgements[0].name}
        if isinstance(overall, str):
            overall = {"name": overall}
        overall_of = tuple(overall.get("of") or ())
        overall_combine = overall.get("combine", "first")
        if overall_combine not in PER_ITEM:
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
        return any("second" in p.images for j in self.judgements for p in j.prompts)

    @property
    def per_item(self) -> bool:
        """Whether the benchmark's layout chooses each item's prompts (some judgement has variants)."""
        return any(j.variants for j in self.judgements)

    def asked(self, sample) -> list[tuple[Judgement, Prompt]]:
        """The judgements asked of ``sample``, each with its prompt: every judgement, or where the layout chooses
        per item (``per_item``), those it names, in the scheme's order.

        Raises:
            ValueError: the sample names no variant, or one the judgement does not have.
        """
        if not self.per_item:
            return [(j, j.prompt) for j in self.judgements]
        chosen = sample.extra.get("variants")
        if not isinstance(chosen, Mapping):
            raise ValueError(f"judge={self.name} asks what a benchmark's layout chooses per item; {sample.id} has none")
        out = []
        for j in self.judgements:
            name = chosen.get(j.name)
            if name is not None and name not in j.variants:
                raise ValueError(f"judge={self.name}: judgement {j.name} has no variant {name!r} ({sample.id} asks it)")
            if name is not None:
                out.append((j, j.variants[name]))
        return out

    @property
    def criteria(self) -> list[str]:
        """Every named score of a row: each key, each judgement, then the overall (no repeats)."""
        names = [k for j in self.judgements for k in j.keys] + [j.name for j in self.judgements] + [self.overall]
        return list(dict.fromkeys(names))

    def values(self, sample) -> dict:
        """Template values for this sample's prompts: the sample's fields and the rubric for its category."""
        rubric = self.rubrics.get(sample.category or "", self.rubrics.get("default", ""))
        return {"rubric": rubric}

    def check_asked(self, samples) -> None:
        """Raises: ValueError naming the first sample ``asked`` cannot ask (see there)."""
        if self.per_item:
            for s in samples:
                self.asked(s)

    def uncovered(self, samples) -> tuple[Counter, Counter]:
        """Samples per category that fall back to the default rubric, and per category that an official
        per-category prompt has no text for (such samples cannot be judged under it)."""
        categories = Counter(s.category or "" for s in samples)
        fallback = Counter({c: n for c, n in categories.items() if self.rubrics and c not in self.rubrics})
        known = [p.categories for j in self.judgements for p in j.prompts if p.categories is not None]
        missing = Counter({c: n for c, n in categories.items() if known and any(c not in k for k in known)})
        return fallback, missing

    def combine(self, key_scores: Mapping[str, float | None], item: Mapping | None = None) -> dict[str, float | None]:
        """All criteria of one sample from its key scores; any missing input makes its combination None. A
        benchmark's own arithmetic (``PER_ITEM``) also reads the item's data fields (``item``)."""
        if self.overall_combine in PER_ITEM:
            out = PER_ITEM[self.overall_combine](item or {}, key_scores)
            for j in self.judgements:  # a judgement named apart from its keys: their combination, as below
                if j.name not in out:
                    out[j.name] = _combine(j.combine, [key_scores.get(k) for k in j.keys])
            return {c: out.get(c) for c in self.criteria}
        out = dict(key_scores)
        for j in self.judgements:
            out[j.name] = _combine(j.combine, [key_scores.get(k) for k in j.keys])
        if self.overall_of:
            out[self.overall] = _combine(self.overall_combine, [out.get(n) for n in self.overall_of])
        return {c: out.get(c) for c in self.criteria}


def _judgement(j, cfg) -> Judgement:
    keys = tuple(j.get("keys") or [j["name"]])
    combine = j.get("combine", "first")
    _check_combine(combine, f"judgement {j['name']!r}")
    system, source = j.get("system", cfg.system), cfg.official_source
    variants = {str(name): Prompt.from_config({"system": system, "user": parts}, source)
                for name, parts in (j.get("variants") or {}).items()}  # fmt: skip
    prompt = None if variants else Prompt.from_config({"system": system, "user": j["user"]}, source)
    return Judgement(j["name"], prompt, keys, combine, variants)


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
