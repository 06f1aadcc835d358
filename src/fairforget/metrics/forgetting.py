"""Forgetting statistics between a base model and a fine-tuned model scored on the same texts and tokens.

Definitions (docs/metrics.md has the formulas):
- example loss = mean token NLL of the example (PLL terms for masked models, next-token terms for causal ones);
  `mean_loss_change` = mean over examples of (tuned loss - base loss).
- perplexity = exp(total NLL / total tokens) over the set (pseudo-perplexity for masked models).
- token forgetting (Toneva et al. 2019, at token level): a token is *forgotten* when the base model's top-1
  prediction at that position is correct and the tuned model's is not; *learned* in the reverse case.
- example correctness: an example is correct when its top-1 token accuracy is >= `threshold`; an example is
  forgotten when correct under the base model and not under the tuned model.
- KL: mean over examples of the mean token KL(base || tuned) of the predictive distributions.
Every statistic is bootstrapped over examples; examples with no scored token are left out.
"""

from __future__ import annotations

import math

import numpy as np

from fairforget.errors import ModelError
from fairforget.metrics.bootstrap import BootstrapSettings, MetricValue, mean_estimate, ratio_estimate, sum_estimate
from fairforget.scoring.scores import TextScores


def _check_aligned(base: TextScores, tuned: TextScores) -> None:
    if len(base) != len(tuned):
        raise ModelError(f"forgetting: base scored {len(base)} texts, tuned {len(tuned)}")
    for i, (a, b) in enumerate(zip(base.token_index, tuned.token_index)):
        if not np.array_equal(a, b):
            raise ModelError(f"forgetting: text {i} was scored at different token positions for base and tuned")


def forgetting_statistics(
    base: TextScores,
    tuned: TextScores,
    settings: BootstrapSettings,
    threshold: float = 0.5,
    kl: list[np.ndarray] | None = None,
) -> dict[str, MetricValue]:
    """All forgetting statistics of one set of texts (see the module docstring)."""
    _check_aligned(base, tuned)
    keep = [i for i in range(len(base)) if len(base.logprob[i])]
    n_tokens = np.array([len(base.logprob[i]) for i in keep], np.float64)
    base_nll = np.array([-base.logprob[i].sum() for i in keep], np.float64)
    tuned_nll = np.array([-tuned.logprob[i].sum() for i in keep], np.float64)
    base_ok = [base.correct[i] for i in keep]
    tuned_ok = [tuned.correct[i] for i in keep]
    base_correct = np.array([b.sum() for b in base_ok], np.float64)
    base_wrong = n_tokens - base_correct
    tuned_correct = np.array([t.sum() for t in tuned_ok], np.float64)
    forgotten = np.array([(b & ~t).sum() for b, t in zip(base_ok, tuned_ok)], np.float64)
    learned = np.array([(~b & t).sum() for b, t in zip(base_ok, tuned_ok)], np.float64)
    example_base_ok = base_correct / np.maximum(n_tokens, 1) >= threshold
    example_tuned_ok = tuned_correct / np.maximum(n_tokens, 1) >= threshold
    example_forgotten = (example_base_ok & ~example_tuned_ok).astype(np.float64)

    stats = {
        "mean_loss_change": mean_estimate((tuned_nll - base_nll) / np.maximum(n_tokens, 1), settings),
        "base_mean_loss": mean_estimate(base_nll / np.maximum(n_tokens, 1), settings),
        "tuned_mean_loss": mean_estimate(tuned_nll / np.maximum(n_tokens, 1), settings),
        "base_perplexity": ratio_estimate(base_nll, n_tokens, settings, transform=np.exp),
        "tuned_perplexity": ratio_estimate(tuned_nll, n_tokens, settings, transform=np.exp),
        "base_token_accuracy": ratio_estimate(base_correct, n_tokens, settings),
        "tuned_token_accuracy": ratio_estimate(tuned_correct, n_tokens, settings),
        "token_forgetting_rate": ratio_estimate(forgotten, base_correct, settings, n=int(base_correct.sum())),
        "token_forgotten_count": sum_estimate(forgotten, settings),
        "token_learning_rate": ratio_estimate(learned, base_wrong, settings, n=int(base_wrong.sum())),
        "token_learned_count": sum_estimate(learned, settings),
        "example_forgetting_rate": ratio_estimate(
            example_forgotten, example_base_ok.astype(np.float64), settings, n=int(example_base_ok.sum())
        ),
        "example_forgotten_count": sum_estimate(example_forgotten, settings),
    }
    if kl is not None:
        if len(kl) != len(base):
            raise ModelError(f"forgetting: KL given for {len(kl)} texts, scores for {len(base)}")
        per_example_kl = np.array([kl[i].mean() for i in keep], np.float64)
        stats["mean_kl"] = mean_estimate(per_example_kl, settings)
    return stats


def per_example_loss(scores: TextScores) -> np.ndarray:
    """Mean token NLL per text (NaN for a text with no scored token)."""
    return np.array([-lp.mean() if len(lp) else math.nan for lp in scores.logprob], np.float64)
