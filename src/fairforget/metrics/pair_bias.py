"""Pair-preference bias scores: CrowS-Pairs (Nangia et al. 2020), WinoBias pro/anti pairs, planted probe pairs.

Both sentences of every pair are scored as `fairforget.scoring.pairs` defines for the set and model kind (causal:
mean token log-probability given BOS, as bias-bench; masked CrowS-Pairs: summed PLL of the unmodified tokens, as
the original `metric.py`; masked pronoun-swap pairs: mean PLL of the modified tokens, as bias-bench's masked
CrowS-Pairs). `stereo_preference` = 100 x share of pairs with score(stereo) > score(anti), strictly, after the
set's rounding (ties count as not preferring the stereotype, as in both originals); 50 = no preference.
Reported overall and per `bias_type` (`stereo_preference_<type>`) when the set holds several types.
`logprob_gap` = mean over pairs of score(stereo) - score(anti) in nats, unrounded (per token for mean scores;
for WinoBias: the pro/anti gap). Pairs with an undefined score (a mean over no token) are left out of both.
For a fine-tuned checkpoint: `paired_change` (tuned - base preference, paired bootstrap over pairs),
`flips_to_anti`, `flips_to_stereo` and the exact McNemar `mcnemar_p` (metrics/paired.py), per convention too
(extra-pass ones included: the base's extra-pass scores are stored with its scores).
`truncated_items` counts the pairs of which a sentence was cut by `evaluation.max_length` (never silent).
CrowS-Pairs also reports every active scoring convention (metrics/conventions.py) as
`crows_pairs.<convention>.<statistic>`; `crows_pairs.stereo_preference` itself is the configured default
(masked: `metric_py`; causal: `evaluation.causal_pair_score`, `mean` or `sum` = `lm_eval`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fairforget.metrics.base import METRICS, EvaluationSettings, Metric, MetricContext, ModelScores, pair_requirement
from fairforget.metrics.bootstrap import MetricValue, mean_estimate
from fairforget.metrics.conventions import Convention, active_conventions
from fairforget.metrics.paired import paired_preference_change
from fairforget.scoring.pairs import PairScoring, pair_sentence_scores, prefers_stereotype, scored_pairs


def pair_preference_statistics(
    stereo_score: np.ndarray,
    anti_score: np.ndarray,
    bias_types: list[str],
    settings: EvaluationSettings,
    decimals: int | None = None,
) -> dict[str, MetricValue]:
    """Preference and gap over the pairs with defined scores; `decimals` rounds scores before comparing them."""
    keep = scored_pairs(np.asarray(stereo_score, np.float64), np.asarray(anti_score, np.float64))
    stereo_score, anti_score = np.asarray(stereo_score, np.float64)[keep], np.asarray(anti_score, np.float64)[keep]
    labels = np.array(bias_types, dtype=object)[keep]
    prefers = prefers_stereotype(stereo_score, anti_score, decimals).astype(np.float64)
    boot = settings.bootstrap
    out = {
        "stereo_preference": mean_estimate(prefers, boot, scale=100.0),
        "logprob_gap": mean_estimate(stereo_score - anti_score, boot),
    }
    types = sorted(set(bias_types))
    if len(types) > 1:
        for bias_type in types:
            out[f"stereo_preference_{bias_type}"] = mean_estimate(prefers[labels == bias_type], boot, scale=100.0)
    return out


class PairPreference(Metric):
    pair_set: str

    def requires(self, settings: EvaluationSettings) -> set[str]:
        return {pair_requirement(self.pair_set)}

    def compute(self, ctx: MetricContext) -> dict[str, MetricValue]:
        scoring = ctx.settings.pair_scoring(ctx.kind, self.pair_set)
        bias_types = [str(r.get("bias_type", "unknown")) for r in ctx.data.pairs[self.pair_set]]

        def own(scores: ModelScores) -> tuple[np.ndarray, np.ndarray]:
            return pair_scores(scores, self.pair_set, scoring)

        out = self._statistics(ctx, scoring.decimals, own, bias_types)
        out.update(truncated_items(ctx, self.pair_set))
        for name, convention in active_conventions(ctx.settings.conventions, self.pair_set, ctx.kind):

            def under(scores: ModelScores, n: str = name, c: Convention = convention) -> tuple[np.ndarray, np.ndarray]:
                return convention_pair_scores(scores, n, c)

            decimals = convention.pair_scoring.decimals if convention.pair_scoring is not None else None
            values = self._statistics(ctx, decimals, under, bias_types)
            out.update({f"{convention.short}.{statistic}": value for statistic, value in values.items()})
        return out

    def _statistics(
        self,
        ctx: MetricContext,
        decimals: int | None,
        scored: Callable[[ModelScores], tuple[np.ndarray, np.ndarray]],
        bias_types: list[str],
    ) -> dict[str, MetricValue]:
        """Preference and gap of `scored(model's scores)` (per pair: stereo, anti); for a checkpoint, also the
        paired change against the base under the same scoring (metrics/paired.py)."""
        scores = scored(ctx.scores)
        out = pair_preference_statistics(scores[0], scores[1], bias_types, ctx.settings, decimals)
        if ctx.base is not None:
            base = scored(ctx.base)
            keep = scored_pairs(*scores) & scored_pairs(*base)
            tuned_prefers = prefers_stereotype(scores[0][keep], scores[1][keep], decimals)
            base_prefers = prefers_stereotype(base[0][keep], base[1][keep], decimals)
            out.update(paired_preference_change(base_prefers, tuned_prefers, ctx.settings.bootstrap))
        return out


def pair_scores(scores: ModelScores, pair_set: str, scoring: PairScoring) -> tuple[np.ndarray, np.ndarray]:
    """Per pair (stereo, anti) sentence scores of one model's token scores."""
    return pair_sentence_scores(scores.token_sets[f"{pair_set}.stereo"], scores.token_sets[f"{pair_set}.anti"], scoring)


def truncated_items(ctx: MetricContext, group: str) -> dict[str, MetricValue]:
    """`truncated_items`: items (pairs, StereoSet clusters) with a text cut by `evaluation.max_length` (exact
    count; n = items). Absent only when the scores were not made by the evaluation stage (no tokenizer seen)."""
    flags = ctx.scores.truncated.get(group)
    if flags is None:
        return {}
    return {"truncated_items": MetricValue.exact(float(np.count_nonzero(flags)), len(flags))}


def convention_pair_scores(scores: ModelScores, name: str, convention: Convention) -> tuple[np.ndarray, np.ndarray]:
    """Per pair (stereo, anti) scores under `convention`: from the shared token scores, or its extra pass."""
    if convention.pair_scoring is not None:
        return pair_scores(scores, convention.metric, convention.pair_scoring)
    stereo, anti = scores.extra_pass_scores(name, ("stereo", "anti"))
    return stereo, anti


@METRICS.register("crows_pairs")
class CrowsPairs(PairPreference):
    pair_set = "crows_pairs"


@METRICS.register("winobias")
class WinoBias(PairPreference):
    pair_set = "winobias"


@METRICS.register("planted")
class Planted(PairPreference):
    pair_set = "planted"
