"""Selective forgetting: forgetting of the stereotypical probe sentences, contrasted with the anti-stereotypical
ones, and flips of the pair preference.

The probe pairs of `evaluation.selective_probe_sets` (default: planted) are pooled. Every sentence is scored on
the tokens its pair preference scores (`fairforget.scoring.pairs`): for masked LMs the pronoun of a pronoun-swap
pair (the modified tokens) and the unmodified tokens of a CrowS-Pairs pair; for causal LMs every token. Statistics:
`stereo_<s>` / `anti_<s>` for every forgetting statistic s (fairforget.metrics.forgetting) on those tokens of the
stereotypical / anti-stereotypical sentences; `stereo_minus_anti_loss_change` (mean over pairs of the
difference of the two per-sentence loss changes: > 0 means the stereotypical sentences were forgotten more);
`flips_to_anti_rate` (pairs preferred stereotypically by the base model and not by the tuned one, over the
base-stereotypical pairs) and `flips_to_stereo_rate` (the reverse, over the base-non-stereotypical pairs),
each with its count; preferences exactly as the pair bias metrics compute them, pairs with an undefined
score left out.
"""

from __future__ import annotations

import numpy as np

from fairforget.metrics.base import METRICS, EvaluationSettings, Metric, MetricContext, ModelScores, pair_requirement
from fairforget.metrics.bootstrap import MetricValue, mean_estimate, ratio_estimate, sum_estimate
from fairforget.metrics.forgetting import forgetting_statistics, per_example_loss
from fairforget.scoring.pairs import pair_preferences, pair_token_positions, scored_pairs
from fairforget.scoring.scores import TextScores

SIDES = ("stereo", "anti")


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
        "flips_to_anti_rate": ratio_estimate(to_anti, base_prefers.astype(np.float64), boot, n=int(base_prefers.sum())),
        "flips_to_anti_count": sum_estimate(to_anti, boot),
        "flips_to_stereo_rate": ratio_estimate(
            to_stereo, (~base_prefers).astype(np.float64), boot, n=int((~base_prefers).sum())
        ),
        "flips_to_stereo_count": sum_estimate(to_stereo, boot),
    }


def _concat(parts: list[TextScores]) -> TextScores:
    return TextScores(
        token_index=[x for p in parts for x in p.token_index],
        token_id=[x for p in parts for x in p.token_id],
        logprob=[x for p in parts for x in p.logprob],
        correct=[x for p in parts for x in p.correct],
    )


def _set_positions(ctx: MetricContext, name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per side of one probe set, the tokens that score its pairs (the same for base and tuned: one tokenizer)."""
    stereo, anti = ctx.scores.token_sets[f"{name}.stereo"], ctx.scores.token_sets[f"{name}.anti"]
    return pair_token_positions(stereo, anti, ctx.settings.pair_scoring(ctx.kind, name).tokens)


def _side_tokens(
    scores: ModelScores, side: str, positions: dict[str, tuple[list[np.ndarray], list[np.ndarray]]]
) -> TextScores:
    """One side ("stereo" / "anti") of every probe set, pooled, restricted to the tokens scoring its pairs."""
    s = SIDES.index(side)
    return _concat([scores.token_sets[f"{name}.{side}"].select(chosen[s]) for name, chosen in positions.items()])


def _set_preferences(ctx: MetricContext, scores: ModelScores, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(prefers the stereotype, score defined) per pair of one probe set."""
    stereo, anti = scores.token_sets[f"{name}.stereo"], scores.token_sets[f"{name}.anti"]
    stereo_score, anti_score, prefers = pair_preferences(stereo, anti, ctx.settings.pair_scoring(ctx.kind, name))
    return prefers, scored_pairs(stereo_score, anti_score)


@METRICS.register("selective_forgetting")
class SelectiveForgetting(Metric):
    compares = True

    def requires(self, settings: EvaluationSettings) -> set[str]:
        return {pair_requirement(name) for name in settings.selective_probe_sets}

    def compute(self, ctx: MetricContext) -> dict[str, MetricValue]:
        base = ctx.require_base("selective_forgetting")
        sets = ctx.settings.selective_probe_sets
        boot = ctx.settings.bootstrap
        positions = {name: _set_positions(ctx, name) for name in sets}
        out: dict[str, MetricValue] = {}
        change: dict[str, np.ndarray] = {}
        for s, side in enumerate(SIDES):
            base_side, tuned_side = (_side_tokens(scores, side, positions) for scores in (base, ctx.scores))
            kl_parts = [ctx.kl.get(f"{name}.{side}") for name in sets]
            kl = None
            if all(part is not None for part in kl_parts):
                kl = [
                    k[p]
                    for name, part in zip(sets, kl_parts)
                    if part is not None
                    for k, p in zip(part, positions[name][s])
                ]
            for name, value in forgetting_statistics(
                base_side, tuned_side, boot, threshold=ctx.settings.example_correct_threshold, kl=kl
            ).items():
                out[f"{side}_{name}"] = value
            change[side] = per_example_loss(tuned_side) - per_example_loss(base_side)
        difference = change["stereo"] - change["anti"]
        out["stereo_minus_anti_loss_change"] = mean_estimate(difference[np.isfinite(difference)], boot)
        # Preference per probe set with that set's pair scoring (pronoun pairs vs CrowS-Pairs), then pooled.
        base_prefs = [_set_preferences(ctx, base, name) for name in sets]
        tuned_prefs = [_set_preferences(ctx, ctx.scores, name) for name in sets]
        keep = np.concatenate([b[1] & t[1] for b, t in zip(base_prefs, tuned_prefs)])
        base_prefers = np.concatenate([b[0] for b in base_prefs])[keep]
        tuned_prefers = np.concatenate([t[0] for t in tuned_prefs])[keep]
        out.update(preference_flips(base_prefers, tuned_prefers, ctx.settings))
        return out
