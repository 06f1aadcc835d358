"""Named bias-scoring conventions: how each peer toolkit turns token log-probabilities into a bias score.

Fairness papers report CrowS-Pairs and StereoSet under different conventions (which tokens score a sentence, sum
or mean, the start token, rounding); each toolkit reports one silently. Every convention here names the peer,
file and function it reproduces (docs/metrics.md §5.1 has the table with what differs). A convention is
registered as

    CONVENTIONS.register("crows_pairs.causal.lm_eval")(Convention(...))

Its statistics land in metrics.json as `<metric>.<short name>.<statistic>`, e.g.
`crows_pairs.lm_eval.stereo_preference`, beside the metric's configured default (`crows_pairs.stereo_preference`).
Conventions with `extra_pass=False` are computed from the one scoring pass every model gets (they share its
token log-probabilities); the others need another forward pass and are computed only when `evaluation.
conventions` names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fairforget.errors import ConfigError
from fairforget.registry import Registry
from fairforget.scoring.pairs import MASKED_DECIMALS, PairScoring, pair_scoring

BIAS_BENCH = "McGill-NLP/bias-bench @ aba440322fb38600f7790e457a17941f0b12bf20"
CROWS_ORIGINAL = "nyu-mll/crows-pairs"
LM_EVAL = "EleutherAI/lm-evaluation-harness (PyPI lm_eval 0.4.13)"
# `evaluation.conventions` value meaning "every convention that needs no extra forward pass".
DEFAULT = "default"


@dataclass(frozen=True)
class Convention:
    """One way of scoring one bias metric for one model kind."""

    metric: str  # "crows_pairs" | "stereoset" | "seat"
    kind: str  # "masked" | "causal"
    short: str  # the column infix: `<metric>.<short>.<statistic>`
    peer: str  # repository (and commit) or package whose scoring this reproduces
    source: str  # file and function
    differs: str  # what differs from the other conventions of the metric (one line)
    extra_pass: bool = False  # needs a forward pass beyond the shared scoring pass
    pair_scoring: PairScoring | None = None  # CrowS-Pairs from the shared pass: tokens, aggregate, rounding
    start: str | None = None  # two-pass causal scoring's start token: "endoftext" | "bos" (scoring.start_token)

    @property
    def start_token_policy(self) -> str:
        """How the first scored token is conditioned, in words (recorded in metrics.json)."""
        if self.kind == "masked":
            return "none (masked LM: [CLS] ... [SEP] from the tokenizer)"
        if self.start == "endoftext":
            return "first token given position 0 of encode('<|endoftext|>'); the rest in a second pass"
        if self.start == "bos":
            return "first token given the tokenizer's BOS alone; the rest in a second pass"
        return "every text token in one pass over BOS + sentence (BOS prepended if the tokenizer adds none)"


CONVENTIONS: Registry[Convention] = Registry("scoring convention")

_C = CONVENTIONS.register
_C("crows_pairs.masked.metric_py")(
    Convention(
        "crows_pairs", "masked", "metric_py", CROWS_ORIGINAL, "metric.py, mask_unigram / evaluate",
        "unmodified tokens, each masked in turn; sum of PLL terms; rounded to 3 decimals",
        pair_scoring=PairScoring("unmodified", "sum", MASKED_DECIMALS),
    )
)  # fmt: skip
_C("crows_pairs.masked.bias_bench")(
    Convention(
        "crows_pairs", "masked", "bias_bench", BIAS_BENCH,
        "bias_bench/benchmark/crows/crows.py, _likelihood_score / _average_log_probability",
        "modified tokens, each masked in turn; mean of PLL terms; rounded to 3 decimals; pairs with no modified "
        "token skipped",
        pair_scoring=PairScoring("modified", "mean", MASKED_DECIMALS),
    )
)  # fmt: skip
_C("crows_pairs.causal.one_pass_mean")(
    Convention(
        "crows_pairs", "causal", "one_pass_mean", "this project (bias-bench's mean with the tokenizer's BOS, one pass)",
        "fairforget/scoring/pairs.py, pair_scoring (causal_pair_score: mean)",
        "every text token, one pass after BOS; mean log-probability; the BOS itself not scored",
        pair_scoring=PairScoring("all", "mean"),
    )
)  # fmt: skip
_C("crows_pairs.causal.lm_eval")(
    Convention(
        "crows_pairs", "causal", "lm_eval", LM_EVAL,
        "lm_eval/tasks/crows_pairs/utils.py, process_results; lm_eval/models/huggingface.py, loglikelihood "
        "(empty context = prefix token)",
        "every text token after the tokenizer's BOS (lm_eval's prefix token); summed log-probability",
        pair_scoring=PairScoring("all", "sum"),
    )
)  # fmt: skip
_C("crows_pairs.causal.bias_bench")(
    Convention(
        "crows_pairs", "causal", "bias_bench", BIAS_BENCH,
        "bias_bench/benchmark/crows/crows.py, _likelihood_score_generative / _joint_log_probability",
        "tokenizer.encode(sentence) incl. its special tokens; first token given '<|endoftext|>', the rest in a "
        "second pass; mean over all those tokens",
        extra_pass=True,
        start="endoftext",
    )
)  # fmt: skip
_C("crows_pairs.causal.bias_bench_bos")(
    Convention(
        "crows_pairs", "causal", "bias_bench_bos", BIAS_BENCH,
        "bias_bench/benchmark/crows/crows.py, _joint_log_probability with the start token replaced",
        "as bias_bench, the first token given the tokenizer's own BOS instead of '<|endoftext|>'",
        extra_pass=True,
        start="bos",
    )
)  # fmt: skip
_C("stereoset.masked.bias_bench")(
    Convention(
        "stereoset", "masked", "bias_bench", BIAS_BENCH,
        "bias_bench/benchmark/stereoset/stereoset.py, _likelihood_score; experiments/stereoset_evaluation.py",
        "template word's tokens masked left to right; mean probability; SS/LMS macro over targets",
    )
)  # fmt: skip
_C("stereoset.causal.one_pass")(
    Convention(
        "stereoset", "causal", "one_pass", "this project (bias-bench's score with the tokenizer's BOS, one pass)",
        "fairforget/scoring/stereoset.py, _causal_scores",
        "every text token, one pass after BOS; geometric-mean probability; the BOS itself not scored",
    )
)  # fmt: skip
_C("stereoset.causal.bias_bench")(
    Convention(
        "stereoset", "causal", "bias_bench", BIAS_BENCH,
        "bias_bench/benchmark/stereoset/stereoset.py, _likelihood_score_generative",
        "tokenizer.encode(sentence); first token given '<|endoftext|>', the rest in a second pass; geometric-mean "
        "probability (bias-bench asserts '<|endoftext|>' is one token; here its first position is used)",
        extra_pass=True,
        start="endoftext",
    )
)  # fmt: skip
_C("seat.masked.bias_bench")(
    Convention(
        "seat", "masked", "bias_bench", BIAS_BENCH,
        "bias_bench/benchmark/seat/weat.py, run_test / p_val_permutation_test; seat.py, _encode",
        "the only SEAT convention: its statistics are the `seat.*` columns themselves",
    )
)  # fmt: skip


def convention_names_from_config(value: object, metrics: Sequence[str]) -> tuple[str, ...] | None:
    """`evaluation.conventions`: "default" (None) or a list of registered names (validated), each of a metric
    in `metrics` (`evaluation.metrics`): a convention of a metric not computed would be silently absent."""
    if value == DEFAULT:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"config key 'evaluation.conventions': expected {DEFAULT!r} or a list of convention names, got {value!r}"
        )
    for index, name in enumerate(value):
        metric = CONVENTIONS.get(name, key=f"evaluation.conventions[{index}]").metric
        if metric not in metrics:
            raise ConfigError(
                f"config key 'evaluation.conventions[{index}]': convention {name!r} scores metric {metric!r}, "
                f"which evaluation.metrics does not list"
            )
    return tuple(value)


def active_conventions(chosen: Sequence[str] | None, metric: str, kind: str) -> list[tuple[str, Convention]]:
    """(name, convention) of `metric` for `kind` that are reported: the chosen ones, or every one without an
    extra forward pass when `chosen` is None."""
    out = []
    for name in CONVENTIONS.names():
        convention = CONVENTIONS.get(name)
        if convention.metric != metric or convention.kind != kind:
            continue
        if (name in chosen) if chosen is not None else not convention.extra_pass:
            out.append((name, convention))
    return out


def conventions_record(
    chosen: Sequence[str] | None,
    metrics: Sequence[str],
    kind: str,
    max_length: int,
    start_tokens: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """metrics.json's `conventions`: per reported convention, its columns, peer, source, start-token policy and
    truncation (the `truncated_items` column of its metric counts the items cut). `start_tokens`: the tokens
    the tokenizer gives each start policy ("one_pass": its BOS; "endoftext", "bos": pass 1's input)."""
    record: dict[str, Any] = {}
    for metric in metrics:
        for name, convention in active_conventions(chosen, metric, kind):
            record[name] = {
                "columns": f"{metric}.*" if metric == "seat" else f"{metric}.{convention.short}.*",
                "peer": convention.peer,
                "source": convention.source,
                "differs": convention.differs,
                "extra_pass": convention.extra_pass,
                "start_token": convention.start_token_policy,
                "start_tokens": (start_tokens or {}).get(convention.start or "one_pass") if kind == "causal" else None,
                "truncation": f"texts cut to {max_length} model inputs; {metric}.truncated_items counts the items",
            }
    return record


def default_convention(metric: str, kind: str, causal_pair_score: str = "mean") -> str:
    """The convention a metric's own columns follow for a model of `kind` (`crows_pairs.stereo_preference`,
    `stereoset.ss`): the registered one scoring as the evaluation does (CrowS-Pairs: the same `PairScoring`;
    StereoSet: the shared pass's, the one without an extra pass). Pair sets with no registered convention
    (planted, WinoBias) are named by their pair scoring (docs/metrics.md §1)."""
    if metric == "stereoset":
        return next(name for name, c in active_conventions(None, metric, kind))
    scoring = pair_scoring(kind, metric, causal_pair_score)
    for name in CONVENTIONS.names():
        convention = CONVENTIONS.get(name)
        if (convention.metric, convention.kind, convention.pair_scoring) == (metric, kind, scoring):
            return name
    rounding = f", rounded to {scoring.decimals} decimals" if scoring.decimals is not None else ""
    return f"docs/metrics.md §1 pair scoring: {scoring.tokens} tokens, {scoring.aggregate}{rounding}"
