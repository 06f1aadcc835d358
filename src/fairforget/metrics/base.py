"""The metric plug-in interface: inputs every metric sees and the registry that names them.

A metric is a class in a module of `fairforget.metrics` (or a plugin module) registered by name:

    @METRICS.register("crows_pairs")
    class CrowsPairs(Metric): ...

`requires(settings)` names the score sets it needs (see `ScoreSet`); the evaluation stage scores exactly the
union of what the configured metrics need. `compute(ctx)` returns {statistic: MetricValue}; the stage stores
them as `"<metric name>.<statistic>"`. Metrics with `compares = True` need the base model's scores and run
only when a fine-tuned checkpoint is evaluated; the others describe one model (base or tuned).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fairforget.errors import ConfigError, ModelError
from fairforget.metrics.bootstrap import BootstrapSettings, MetricValue
from fairforget.metrics.conventions import DEFAULT, convention_names_from_config
from fairforget.registry import Registry
from fairforget.scoring.pairs import AGGREGATES, PairScoring, pair_scoring
from fairforget.scoring.scores import TextScores

PAIR_SETS = ("planted", "winobias", "crows_pairs")
HELDOUT = "heldout"
STEREOSET = "stereoset"
SEAT = "seat"
TRAJECTORY = "trajectory"
STEREOSET_CANDIDATES = ("stereotype", "anti_stereotype", "unrelated")
DEFAULT_SEAT_TESTS = ("sent-weat6", "sent-weat6b", "sent-weat7", "sent-weat7b", "sent-weat8", "sent-weat8b")


def pair_requirement(pair_set: str) -> str:
    return f"pairs:{pair_set}"


@dataclass(frozen=True)
class EvaluationSettings:
    """The `evaluation:` config section, validated (defaults in brackets in docs/metrics.md)."""

    batch_size: int = 32
    max_length: int = 64
    bootstrap: BootstrapSettings = BootstrapSettings()
    metrics: tuple[str, ...] = ("overall_forgetting", "selective_forgetting", "crows_pairs", "stereoset", "winobias")
    example_correct_threshold: float = 0.5
    selective_probe_sets: tuple[str, ...] = ("planted",)
    seat_tests: tuple[str, ...] = DEFAULT_SEAT_TESTS
    seat_permutations: int = 100000  # bias-bench's n_samples
    kl: bool = True
    # Causal LMs' pair score: "mean" token log-probability (bias-bench) or the "sum" (joint log-probability).
    causal_pair_score: str = "mean"
    # Named scoring conventions reported beside each bias metric (metrics/conventions.py); None = "default":
    # every convention computed from the shared scoring pass.
    conventions: tuple[str, ...] | None = None

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> EvaluationSettings:
        def integer(key: str, default: int, minimum: int = 1) -> int:
            value = section.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"config key 'evaluation.{key}': expected an integer >= {minimum}, got {value!r}")
            return value

        def names(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
            value = section.get(key, list(default))
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"config key 'evaluation.{key}': expected a list of names, got {value!r}")
            return tuple(value)

        threshold = section.get("example_correct_threshold", 0.5)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise ConfigError(
                f"config key 'evaluation.example_correct_threshold': expected a number in (0, 1], got {threshold!r}"
            )
        selective = names("selective_probe_sets", ("planted",))
        unknown = sorted(set(selective) - set(PAIR_SETS))
        if unknown:
            raise ConfigError(
                f"config key 'evaluation.selective_probe_sets': unknown probe set(s) "
                f"{', '.join(unknown)}; allowed: {', '.join(PAIR_SETS)}"
            )
        kl = section.get("kl", True)
        if not isinstance(kl, bool):
            raise ConfigError(f"config key 'evaluation.kl': expected true or false, got {kl!r}")
        causal_pair_score = section.get("causal_pair_score", "mean")
        if causal_pair_score not in AGGREGATES:
            raise ConfigError(
                f"config key 'evaluation.causal_pair_score': expected one of {', '.join(AGGREGATES)}, "
                f"got {causal_pair_score!r}"
            )
        metrics = names("metrics", cls.metrics)
        for index, name in enumerate(metrics):
            METRICS.get(name, key=f"evaluation.metrics[{index}]")
        return cls(
            batch_size=integer("batch_size", 32),
            max_length=integer("max_length", 64, minimum=2),
            bootstrap=BootstrapSettings(
                samples=integer("bootstrap_samples", 1000), seed=integer("bootstrap_seed", 0, minimum=0)
            ),
            metrics=metrics,
            example_correct_threshold=float(threshold),
            selective_probe_sets=selective,
            seat_tests=names("seat_tests", DEFAULT_SEAT_TESTS),
            seat_permutations=integer("seat_permutations", 100000),
            kl=kl,
            causal_pair_score=causal_pair_score,
            conventions=convention_names_from_config(section.get("conventions", DEFAULT), metrics),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "max_length": self.max_length,
            "bootstrap_samples": self.bootstrap.samples,
            "bootstrap_seed": self.bootstrap.seed,
            "metrics": list(self.metrics),
            "example_correct_threshold": self.example_correct_threshold,
            "selective_probe_sets": list(self.selective_probe_sets),
            "seat_tests": list(self.seat_tests),
            "seat_permutations": self.seat_permutations,
            "kl": self.kl,
            "causal_pair_score": self.causal_pair_score,
            "conventions": DEFAULT if self.conventions is None else list(self.conventions),
        }

    def pair_scoring(self, kind: str, pair_set: str) -> PairScoring:
        """How the pairs of `pair_set` are scored for a model of `kind` (fairforget.scoring.pairs)."""
        return pair_scoring(kind, pair_set, self.causal_pair_score)


@dataclass
class EvaluationData:
    """The evaluation inputs, as records (see ARCHITECTURE.md file formats)."""

    heldout: list[dict[str, Any]] = field(default_factory=list)  # {"id", "text"}
    pairs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # set -> {"id","stereo","anti","bias_type"}
    stereoset: list[dict[str, Any]] = field(default_factory=list)
    seat: dict[str, dict[str, Any]] = field(default_factory=dict)  # test -> {"targ1": {"examples": [...]}, ...}


@dataclass
class ModelScores:
    """Everything scored for one model. Token sets: "heldout", "<pair set>.stereo", "<pair set>.anti"."""

    kind: str
    token_sets: dict[str, TextScores] = field(default_factory=dict)
    sentence_scores: dict[str, np.ndarray] = field(default_factory=dict)  # "stereoset.<candidate>" -> [records]
    embeddings: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # SEAT test -> role -> [n, h]
    # per item, True when truncation to evaluation.max_length cut tokens: "<pair set>" (either sentence),
    # "stereoset" (any candidate); never silent (metrics report the count)
    truncated: dict[str, np.ndarray] = field(default_factory=dict)
    # extra-pass conventions' sentence scores: "<convention name>.<stereo|anti|candidate>" -> score per item
    convention_scores: dict[str, np.ndarray] = field(default_factory=dict)

    def extra_pass_scores(self, convention: str, parts: Sequence[str]) -> list[np.ndarray]:
        """An extra-pass convention's score per item for each part (`stereo`/`anti`, or StereoSet's candidates)."""
        found = [self.convention_scores.get(f"{convention}.{part}") for part in parts]
        if any(scores is None for scores in found):
            raise ModelError(f"scoring convention {convention!r} needs its extra pass, but the scores do not hold it")
        return found  # type: ignore[return-value]


@dataclass
class MetricContext:
    kind: str
    data: EvaluationData
    settings: EvaluationSettings
    scores: ModelScores  # the model being evaluated (the base model in evaluate_base)
    base: ModelScores | None = None  # the base model, when a fine-tuned checkpoint is evaluated
    kl: dict[str, list[np.ndarray]] = field(default_factory=dict)  # token set -> per-text KL(base || tuned)
    trajectory: Any = None  # polars DataFrame of the trajectory contract, when evaluating a checkpoint

    def require_base(self, metric: str) -> ModelScores:
        if self.base is None:
            raise ConfigError(f"metric '{metric}' compares with the base model but no base scores were given")
        return self.base


class Metric(ABC):
    #: needs the base model's scores (forgetting) rather than describing one model (bias)
    compares: bool = False
    #: model kinds the metric is defined for; others are skipped with a log line
    kinds: tuple[str, ...] = ("masked", "causal")

    @abstractmethod
    def requires(self, settings: EvaluationSettings) -> set[str]:
        """Score sets needed: HELDOUT, pair_requirement(set), STEREOSET, SEAT, TRAJECTORY."""

    @abstractmethod
    def compute(self, ctx: MetricContext) -> dict[str, MetricValue]:
        """{statistic name: value}; the stage prefixes the metric's registered name."""


METRICS: Registry[type[Metric]] = Registry("metric", "fairforget.metrics")
