"""Forgetting, bias and bootstrap statistics on hand-computed cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from fairforget.errors import ConfigError, DataError
from fairforget.metrics.base import EvaluationSettings
from fairforget.metrics.bootstrap import BootstrapSettings, mean_estimate, ratio_estimate
from fairforget.metrics.forgetting import forgetting_statistics
from fairforget.metrics.pair_bias import pair_preference_statistics
from fairforget.metrics.seat import effect_size, permutation_p_value, seat_label
from fairforget.metrics.selective_forgetting import preference_flips
from fairforget.metrics.stereoset import stereoset_scores
from fairforget.metrics.trajectory import forgetting_events, trajectory_statistics
from fairforget.scoring.scores import TextScores

BOOT = BootstrapSettings(samples=200, seed=0)
SETTINGS = EvaluationSettings(bootstrap=BOOT)


def scores(logprobs, correct):
    return TextScores(
        token_index=[np.arange(len(lp)) for lp in logprobs],
        token_id=[np.arange(len(lp)) for lp in logprobs],
        logprob=[np.array(lp, float) for lp in logprobs],
        correct=[np.array(c, bool) for c in correct],
    )


def test_mean_estimate_point_ci_and_determinism():
    first = mean_estimate(np.array([1.0, 2.0, 3.0, 4.0]), BOOT)
    assert first.value == 2.5 and first.n == 4
    assert 1.0 <= first.ci_low < 2.5 < first.ci_high <= 4.0
    assert mean_estimate(np.array([1.0, 2.0, 3.0, 4.0]), BOOT) == first
    other_seed = mean_estimate(np.array([1.0, 2.0, 3.0, 4.0]), BootstrapSettings(samples=200, seed=1))
    assert other_seed.value == 2.5 and (other_seed.ci_low, other_seed.ci_high) != (first.ci_low, first.ci_high)
    constant = mean_estimate(np.full(5, 7.0), BOOT)
    assert (constant.ci_low, constant.ci_high) == (7.0, 7.0)
    empty = mean_estimate(np.array([]), BOOT)
    assert empty.n == 0 and empty.to_json() == {"value": None, "ci_low": None, "ci_high": None, "n": 0}


def test_ratio_estimate_is_ratio_of_sums():
    result = ratio_estimate(np.array([1.0, 3.0]), np.array([2.0, 2.0]), BOOT)
    assert result.value == pytest.approx(1.0)
    assert 0.5 <= result.ci_low <= result.ci_high <= 1.5
    assert math.isnan(ratio_estimate(np.array([0.0]), np.array([0.0]), BOOT).value)


def test_forgetting_statistics_hand_computed():
    base = scores([[-1.0, -2.0], [-1.0], []], [[True, False], [True], []])
    tuned = scores([[-2.0, -2.0], [-0.5], []], [[False, False], [True], []])
    kl = [np.array([0.1, 0.3]), np.array([0.4]), np.array([])]
    stats = forgetting_statistics(base, tuned, BOOT, threshold=0.5, kl=kl)
    assert stats["mean_loss_change"].value == pytest.approx(0.0)  # (+0.5 - 0.5) / 2; empty text left out
    assert stats["mean_loss_change"].n == 2
    assert stats["base_mean_loss"].value == pytest.approx(1.25)
    assert stats["base_perplexity"].value == pytest.approx(math.exp(4 / 3))
    assert stats["tuned_perplexity"].value == pytest.approx(math.exp(1.5))
    assert stats["base_token_accuracy"].value == pytest.approx(2 / 3)
    assert stats["tuned_token_accuracy"].value == pytest.approx(1 / 3)
    assert (stats["token_forgetting_rate"].value, stats["token_forgetting_rate"].n) == (0.5, 2)
    assert stats["token_forgotten_count"].value == 1
    assert (stats["token_learning_rate"].value, stats["token_learning_rate"].n) == (0.0, 1)
    assert (stats["example_forgetting_rate"].value, stats["example_forgetting_rate"].n) == (0.5, 2)
    assert stats["example_forgotten_count"].value == 1
    assert stats["mean_kl"].value == pytest.approx(0.3)
    # a stricter threshold: example 0 (accuracy 0.5) is no longer correct under the base model
    strict = forgetting_statistics(base, tuned, BOOT, threshold=0.75)
    assert (strict["example_forgetting_rate"].value, strict["example_forgetting_rate"].n) == (0.0, 1)
    assert "mean_kl" not in strict


def test_pair_preference_hand_computed():
    stats = pair_preference_statistics(
        np.array([1.0, 0.0, -1.0, 2.0]), np.array([0.0, 0.0, 0.0, 1.0]), ["gender", "gender", "race", "race"], SETTINGS
    )
    assert stats["stereo_preference"].value == 50.0  # the tie (pair 2) does not count as stereotypical
    assert stats["stereo_preference_gender"].value == 50.0 and stats["stereo_preference_gender"].n == 2
    assert stats["logprob_gap"].value == pytest.approx(0.25)  # (1 + 0 - 1 + 1) / 4
    single = pair_preference_statistics(np.array([1.0]), np.array([0.0]), ["gender"], SETTINGS)
    assert "stereo_preference_gender" not in single and single["stereo_preference"].value == 100.0


def test_preference_flips_hand_computed():
    flips = preference_flips(np.array([True, True, False, False]), np.array([False, True, True, False]), SETTINGS)
    assert (flips["flips_to_anti_rate"].value, flips["flips_to_anti_rate"].n) == (0.5, 2)
    assert flips["flips_to_anti_count"].value == 1
    assert flips["flips_to_stereo_rate"].value == 0.5 and flips["flips_to_stereo_count"].value == 1


def test_stereoset_macro_average_over_targets():
    ss, lms, icat = stereoset_scores(
        np.array([0.3, 0.1, 0.5]), np.array([0.2, 0.2, 0.4]), np.array([0.1, 0.3, 0.6]), ["a", "a", "b"]
    )
    assert (ss, lms, icat) == pytest.approx((75.0, 25.0, 12.5))
    # ties count as anti-stereotypical
    assert stereoset_scores(np.array([0.5]), np.array([0.5]), np.array([0.1]), ["a"])[0] == 0.0


def _unit(rows):
    rows = np.array(rows, float)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_seat_effect_size_and_exact_p_value_hand_computed():
    x, y = _unit([[1, 0], [0.8, 0.6]]), _unit([[0, 1], [0.6, 0.8]])
    a, b = _unit([[1, 0]]), _unit([[0, 1]])
    assert effect_size(x, y, a, b) == pytest.approx(1.2 / math.sqrt(2.08 / 3))
    # s = (1, 0.2 | -1, -0.2); sum_X over the 6 partitions: 1.2 (observed), 0, 0.8, -0.8, 0, -1.2.
    # bias-bench weat.py counts partitions >= observed, the observed one included: p = 1/6, never 0.
    p, low, high, used, exact = permutation_p_value(x, y, a, b, permutations=6, seed=0)
    assert (p, low, high, used, exact) == (pytest.approx(1 / 6), pytest.approx(1 / 6), pytest.approx(1 / 6), 6, True)
    assert permutation_p_value(y, x, a, b, permutations=6, seed=0)[0] == 1.0  # every partition reaches -1.2
    # ties count: X = Y gives s = (1, 0.2 | 1, 0.2), sums 1.2 (observed), 2, 1.2, 1.2, 0.4, 1.2: p = 5/6 (a strict
    # ">" would give 1/6); with every s equal every partition ties and p = 1 (strict: 0)
    assert permutation_p_value(x, x.copy(), a, b, permutations=6, seed=0)[0] == pytest.approx(5 / 6)
    same = _unit([[1, 0], [1, 0]])
    assert permutation_p_value(same, same.copy(), a, b, permutations=6, seed=0)[0] == 1.0
    # sampled (5 < 6 partitions): every draw ties too; Clopper-Pearson lower bound for 5 of 5 = 0.025 ** (1/5)
    tied = permutation_p_value(same, same.copy(), a, b, permutations=5, seed=0)
    assert tied[:3] == (1.0, pytest.approx(0.025 ** (1 / 5)), 1.0)
    sampled = permutation_p_value(x, y, a, b, permutations=5, seed=0)
    assert sampled[3] == 5 and not sampled[4] and sampled[0] == pytest.approx(1 / 5)  # observed counts once
    # Clopper-Pearson for 1 of 5: lower = the Beta(1, 5) quantile 1 - 0.975 ** (1/5); upper 0.7164 (Beta(2, 4))
    assert sampled[1:3] == (pytest.approx(1 - 0.975 ** (1 / 5)), pytest.approx(0.716418, abs=1e-6))
    with pytest.raises(DataError, match="equal target sizes"):
        permutation_p_value(x, y[:1], a, b, 10, 0)
    assert seat_label("sent-weat6b") == "weat6b"


def weat_py_exact_p_value(x, y, a, b):
    """bias-bench weat.py `p_val_permutation_test`, exact branch: s_XAB(X_i) > s or == s (conservative)."""
    cossims = np.concatenate([x, y]) @ np.concatenate([a, b]).T
    s_wab = cossims[:, : len(a)].mean(axis=1) - cossims[:, len(a) :].mean(axis=1)
    observed = s_wab[np.arange(len(x))].sum()
    total_true = total = 0
    for xi in itertools.combinations(range(len(x) + len(y)), len(x)):
        si = s_wab[np.array(xi)].sum()
        total_true += bool(si > observed or si == observed)
        total += 1
    return total_true / total


@pytest.mark.parametrize("seed", range(5))
def test_seat_exact_p_value_equals_weat_py(seed):
    rng = np.random.default_rng(seed)
    x, y, a, b = (_unit(rng.normal(size=(n, 5))) for n in (4, 4, 3, 5))
    assert permutation_p_value(x, y, a, b, permutations=100, seed=0)[0] == pytest.approx(
        weat_py_exact_p_value(x, y, a, b), abs=1e-12
    )


def _trajectory(sequences: dict[str, list[bool]], probe_set: str = "general") -> pl.DataFrame:
    rows = [
        {"step": 10 * s, "probe_set": probe_set, "item_id": item, "correct": ok}
        for item, seq in sequences.items()
        for s, ok in enumerate(seq)
    ]
    return pl.DataFrame(
        rows, schema={"step": pl.Int64, "probe_set": pl.String, "item_id": pl.String, "correct": pl.Boolean}
    )


def test_forgetting_events_hand_computed():
    events = forgetting_events(
        _trajectory({"a": [True, False, True, False], "b": [False, False, False], "c": [False, True, True]})
    )
    rows = {r["item_id"]: r for r in events.iter_rows(named=True)}
    assert (rows["a"]["forgetting_events"], rows["a"]["first_learned_step"], rows["a"]["toneva_count"]) == (2, 0, 2)
    assert (rows["b"]["ever_learned"], rows["b"]["toneva_count"], rows["b"]["first_learned_step"]) == (False, 3, None)
    assert (rows["c"]["forgetting_events"], rows["c"]["first_learned_step"]) == (0, 10)
    stats = trajectory_statistics(events, SETTINGS)
    # Toneva et al.'s three categories partition the items: a forgettable, c unforgettable, b never learned
    assert stats["general_forgettable_fraction"].value == pytest.approx(1 / 3)
    assert stats["general_unforgettable_fraction"].value == pytest.approx(1 / 3)
    assert stats["general_never_learned_fraction"].value == pytest.approx(1 / 3)
    # forgetting events among the learned items only (a: 2, c: 0); b's ranking count (3) is not an event
    assert stats["general_mean_forgetting_events"].value == pytest.approx(1.0)
    assert stats["general_mean_forgetting_events"].n == 2
    assert stats["general_mean_first_learned_step"].value == pytest.approx(5.0)
    assert stats["general_mean_first_learned_progress"].value == pytest.approx((0 / 30 + 10 / 30) / 2)
    assert stats["general_recorded_steps"].value == 4


def test_trajectory_statistics_do_not_grow_with_the_number_of_probes():
    """The same behaviour probed 5 or 20 times: a never-learned item no longer adds its probe count."""
    short = {"never": [False] * 5, "learned": [False, True, False, True, True]}
    long = {"never": [False] * 20, "learned": [False] * 4 + [True] * 4 + [False] * 4 + [True] * 8}
    stats = [trajectory_statistics(forgetting_events(_trajectory(seqs)), SETTINGS) for seqs in (short, long)]
    for name in ("mean_forgetting_events", "never_learned_fraction", "forgettable_fraction", "unforgettable_fraction"):
        assert stats[0][f"general_{name}"].value == stats[1][f"general_{name}"].value, name
    assert stats[0]["general_mean_first_learned_progress"].value == pytest.approx(10 / 40)
    assert stats[1]["general_mean_first_learned_progress"].value == pytest.approx(40 / 190)
    assert (stats[0]["general_recorded_steps"].value, stats[1]["general_recorded_steps"].value) == (5, 20)


@hyp_settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text("abcdef", min_size=1, max_size=3),
        st.lists(st.booleans(), min_size=1, max_size=8),
        min_size=1,
        max_size=6,
    ),
    st.randoms(use_true_random=False),
)
def test_forgetting_event_counter_properties(sequences, rng):
    frame = _trajectory(sequences)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=rng.randint(0, 1000))
    events = forgetting_events(shuffled)
    assert events.height == len(sequences)
    for row in events.iter_rows(named=True):
        seq = sequences[row["item_id"]]
        expected = sum(1 for prev, cur in zip(seq, seq[1:]) if prev and not cur)
        assert row["forgetting_events"] == expected
        assert row["forgetting_events"] <= len(seq) // 2
        assert row["ever_learned"] == any(seq)
        assert row["toneva_count"] == (expected if any(seq) else len(seq))
        assert row["first_learned_step"] == (10 * seq.index(True) if any(seq) else None)
    stats = trajectory_statistics(events, SETTINGS)
    assert stats["general_forgettable_fraction"].value + stats["general_unforgettable_fraction"].value + stats[
        "general_never_learned_fraction"
    ].value == pytest.approx(1.0)
    learned_events = [row["forgetting_events"] for row in events.iter_rows(named=True) if row["ever_learned"]]
    mean_events = stats["general_mean_forgetting_events"]
    assert mean_events.n == len(learned_events)
    if learned_events:
        assert mean_events.value == pytest.approx(np.mean(learned_events))
    else:
        assert math.isnan(mean_events.value)


def test_trajectory_errors_name_the_problem():
    frame = _trajectory({"a": [True, False]})
    with pytest.raises(DataError, match="recorded twice"):
        forgetting_events(pl.concat([frame, frame]))
    with pytest.raises(DataError, match="missing column"):
        forgetting_events(frame.drop("correct"))


def test_settings_validation_names_config_keys():
    settings = EvaluationSettings.from_config({"batch_size": 8, "metrics": ["planted", "seat"]})
    assert settings.batch_size == 8 and settings.bootstrap.samples == 1000
    with pytest.raises(ConfigError, match=r"evaluation.metrics\[1\].*unknown metric 'nope'"):
        EvaluationSettings.from_config({"metrics": ["planted", "nope"]})
    with pytest.raises(ConfigError, match="evaluation.example_correct_threshold"):
        EvaluationSettings.from_config({"example_correct_threshold": 0})
    with pytest.raises(ConfigError, match="evaluation.selective_probe_sets"):
        EvaluationSettings.from_config({"selective_probe_sets": ["bogus"]})
    with pytest.raises(ConfigError, match="evaluation.batch_size"):
        EvaluationSettings.from_config({"batch_size": 0})


@hyp_settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.floats(-8, 0), st.floats(-8, 0), st.booleans(), st.booleans()), min_size=1, max_size=6),
        min_size=1,
        max_size=6,
    )
)
def test_forgetting_statistics_swap_base_and_tuned(texts):
    """Swapping the models negates the loss change and exchanges forgetting with learning."""
    base = scores([[t[0] for t in text] for text in texts], [[t[2] for t in text] for text in texts])
    tuned = scores([[t[1] for t in text] for text in texts], [[t[3] for t in text] for text in texts])
    forward = forgetting_statistics(base, tuned, BootstrapSettings(samples=20, seed=0))
    backward = forgetting_statistics(tuned, base, BootstrapSettings(samples=20, seed=0))
    assert forward["mean_loss_change"].value == pytest.approx(-backward["mean_loss_change"].value, abs=1e-9)
    assert forward["token_forgotten_count"].value == backward["token_learned_count"].value
    assert forward["token_learned_count"].value == backward["token_forgotten_count"].value
    assert forward["base_perplexity"].value == pytest.approx(backward["tuned_perplexity"].value)
    base_correct = sum(int(t[2]) for text in texts for t in text)
    assert forward["token_forgotten_count"].value <= base_correct
    assert forward["token_forgetting_rate"].n == base_correct


def _pair_scores(stereo_lp, anti_lp, stereo_ok, anti_ok):
    """One planted pair: "the nurse said she left" (she = 7) vs "... he left" (he = 8), token 2 differs."""

    def side(ids, lp, ok):
        return TextScores([np.arange(4)], [np.array(ids)], [np.array(lp, float)], [np.array(ok, bool)])

    return {
        "planted.stereo": side([1, 2, 7, 4], stereo_lp, stereo_ok),
        "planted.anti": side([1, 2, 8, 4], anti_lp, anti_ok),
    }


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_selective_forgetting_scores_the_tokens_of_the_pair_preference(kind):
    from fairforget.metrics.base import EvaluationData, MetricContext, ModelScores
    from fairforget.metrics.selective_forgetting import SelectiveForgetting

    base = ModelScores(kind, _pair_scores([-1, -1, -0.5, -1], [-1, -1, -2, -1], [1, 1, 1, 1], [1, 1, 0, 1]))
    # tuned: the stereotypical pronoun loses 2 nats and so does its context; the anti pronoun gains 1 nat
    tuned = ModelScores(kind, _pair_scores([-3, -3, -2.5, -3], [-1, -1, -1, -1], [1, 1, 0, 1], [1, 1, 1, 1]))
    kl = {"planted.stereo": [np.array([0.1, 0.1, 0.5, 0.1])], "planted.anti": [np.array([0.0, 0.0, 0.2, 0.0])]}
    ctx = MetricContext(kind=kind, data=EvaluationData(), settings=SETTINGS, scores=tuned, base=base, kl=kl)
    stats = SelectiveForgetting().compute(ctx)
    if kind == "masked":  # the pronoun alone, as the planted preference scores it
        expected = {
            "stereo_mean_loss_change": 2.0,
            "anti_mean_loss_change": -1.0,
            "stereo_token_forgetting_rate": 1.0,
            "stereo_mean_kl": 0.5,
            "anti_token_learning_rate": 1.0,
        }
    else:  # every token, as the causal preference scores it
        expected = {
            "stereo_mean_loss_change": 2.0,
            "anti_mean_loss_change": -0.25,
            "stereo_token_forgetting_rate": 0.25,
            "stereo_mean_kl": 0.2,
            "anti_token_learning_rate": 1.0,
        }
    for name, value in expected.items():
        assert stats[name].value == pytest.approx(value), name
    assert stats["stereo_minus_anti_loss_change"].value == pytest.approx(
        expected["stereo_mean_loss_change"] - expected["anti_mean_loss_change"]
    )
    # base prefers the stereotype (masked: -0.5 > -2; causal mean: -0.875 > -1.25), tuned does not: one flip
    assert (stats["flips_to_anti_rate"].value, stats["flips_to_anti_rate"].n) == (1.0, 1)
    assert stats["flips_to_anti_count"].value == 1
