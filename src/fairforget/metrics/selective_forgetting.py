"""Selective forgetting: forgetting of the stereotypical probe sentences, contrasted with the anti-stereotypical
ones, and flips of the pair preference.

The probe pairs of `evaluation.selective_probe_sets` (default: planted) are pooled. Statistics:
`stereo_<s>` / `anti_<s>` for every forgetting statistic s (fairforget.metrics.forgetting) on the
stereotypical / anti-stereotypical sentences; `stereo_minus_anti_loss_change` (mean over pairs of the
difference of the two per-sentence loss changes: > 0 means the stereotypical sentences were forgotten more);
`flips_to_anti_rate` (pairs preferred stereotypically by the base model and not by the tuned one, over the
base-stereotypical pairs) and `flips_to_stereo_rate` (the reverse, over the base-non-stereotypical pairs),
each with its count.
"""

from __future__ import annotations

import numpy as np

from fairforget.metrics.base import METRICS, EvaluationSettings, Metric, MetricContext, ModelScores, pair_requirement
from fairforget.metrics.bootstrap import MetricValue, mean_estimate, ratio_estimate, sum_estimate
from fairforget.metrics.forgetting import forgetting_statistics, per_example_loss
from fairforget.scoring.pairs import pair_masked_tokens, pair_sentence_scores, prefers_stereotype
from fairforget.scoring.scores import TextScores


def _pooled(scores: ModelScores, sets: tuple[str, ...], side: str) -> TextScores:
    parts = [scores.token_sets[f"{name}.{side}"] for name in sets]
    return TextScores(
        token_index=[x for p in parts for x in p.token_index], token_id=[x for p in parts for x in p.token_id],
        logprob=[x for p in parts for x in p.logprob], correct=[x for p in parts for x in p.correct],
    )


def preference_flips(
    base_prefers: np.ndarray, tuned_prefers: np.ndarray, settings: EvaluationSettings
) -> dict[str, MetricValue]:
    """Pairs whose stereotypical preference changed between base and tuned model."""
    base_prefers = np.asarray(base_prefers, bool)
    tuned_prefers = np.asarray(tuned_prefers, bool)
    to_anti = (base_prefers & ~tuned_prefers).astype(np.float64)
    to_stereo = (~base_prefers & tuned_prefers).astype(np.float64)
    boot = settings.bootstrap
    return {
        "flips_to_anti_rate": ratio_estimate(to_anti, base_prefers.astype(np.float64), boot,
                                             n=int(base_prefers.sum())),
        "flips_to_anti_count": sum_estimate(to_anti, boot),
        "flips_to_stereo_rate": ratio_estimate(to_stereo, (~base_prefers).astype(np.float64), boot,
                                               n=int((~base_prefers).sum())),
        "flips_to_stereo_count": sum_estimate(to_stereo, boot),
    }


def _set_preference(kind: str, scores, name: str) -> np.ndarray:
    stereo, anti = scores.token_sets[f"{name}.stereo"], scores.token_sets[f"{name}.anti"]
    return prefers_stereotype(*pair_sentence_scores(kind, stereo, anti, pair_masked_tokens(name)))


@METRICS.register("selective_forgetting")
class SelectiveForgetting(Metric):
    compares = True

    def requires(self, settings: EvaluationSettings) -> set[str]:
        return {pair_requirement(name) for name in settings.selective_probe_sets}

    def compute(self, ctx: MetricContext) -> dict[str, MetricValue]:
        base = ctx.require_base("selective_forgetting")
        sets = ctx.settings.selective_probe_sets
        boot = ctx.settings.bootstrap
        out: dict[str, MetricValue] = {}
        sides: dict[str, tuple[TextScores, TextScores]] = {}
        for side in ("stereo", "anti"):
            base_side, tuned_side = _pooled(base, sets, side), _pooled(ctx.scores, sets, side)
            sides[side] = (base_side, tuned_side)
            kl_parts = [ctx.kl.get(f"{name}.{side}") for name in sets]
            kl = None
            if all(part is not None for part in kl_parts):
                kl = [x for part in kl_parts if part is not None for x in part]
            for name, value in forgetting_statistics(
                base_side, tuned_side, boot, threshold=ctx.settings.example_correct_threshold, kl=kl
            ).items():
                out[f"{side}_{name}"] = value
        change = {side: per_example_loss(t) - per_example_loss(b) for side, (b, t) in sides.items()}
        difference = change["stereo"] - change["anti"]
        out["stereo_minus_anti_loss_change"] = mean_estimate(difference[np.isfinite(difference)], boot)
        # Preference per probe set with that set's pair scoring (pronoun pairs vs CrowS-Pairs), then pooled.
        base_prefers = np.concatenate([_set_preference(ctx.kind, base, name) for name in sets])
        tuned_prefers = np.concatenate([_set_preference(ctx.kind, ctx.scores, name) for name in sets])
        out.update(preference_flips(base_prefers, tuned_prefers, ctx.settings))
        return out
