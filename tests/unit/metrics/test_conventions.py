"""Named bias-scoring conventions (fairforget.metrics.conventions): hand-computed cases per convention, the
registry's default and config handling, truncation counts. (bias-bench's two-pass causal scoring:
tests/unit/scoring/test_start_token.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fairforget.errors import ConfigError, ModelError
from fairforget.metrics.base import EvaluationData, EvaluationSettings, MetricContext, ModelScores
from fairforget.metrics.conventions import CONVENTIONS, active_conventions, conventions_record
from fairforget.metrics.pair_bias import CrowsPairs
from fairforget.metrics.stereoset import StereoSet
from fairforget.scoring.scores import TextScores

torch.set_num_threads(1)


def _scores(ids: list[list[int]], logprobs: list[list[float]]) -> TextScores:
    return TextScores(
        [np.arange(len(i)) for i in ids],
        [np.array(i, np.int64) for i in ids],
        [np.array(lp, np.float64) for lp in logprobs],
        [np.zeros(len(i), bool) for i in ids],
    )


# One pair, hand-computed. Stereo ids [5, 7, 9], anti ids [5, 8, 8, 9]: tokens 5 and 9 are unmodified.
#   stereo log-probs [-1, -2, -3]      sum -6.0, mean -2.0,  unmodified sum -4.0, modified mean -2.0
#   anti   log-probs [-1, -2, -2, -2]  sum -7.0, mean -1.75, unmodified sum -3.0, modified mean -2.0
# So: lm_eval (sum) prefers the stereotype (-6 > -7); one-pass mean does not (-2 < -1.75);
# metric.py (unmodified sum) does not (-4 < -3); bias-bench masked (modified mean) ties (-2 = -2): not preferred.
STEREO = _scores([[5, 7, 9]], [[-1.0, -2.0, -3.0]])
ANTI = _scores([[5, 8, 8, 9]], [[-1.0, -2.0, -2.0, -2.0]])
EXPECTED = {
    ("causal", "lm_eval"): (100.0, 1.0),
    ("causal", "one_pass_mean"): (0.0, -0.25),
    ("masked", "metric_py"): (0.0, -1.0),
    ("masked", "bias_bench"): (0.0, 0.0),
}


def _context(kind: str, conventions: list[str] | str = "default", **extra: object) -> MetricContext:
    settings = EvaluationSettings.from_config({"bootstrap_samples": 20, "conventions": conventions, **extra})
    data = EvaluationData(pairs={"crows_pairs": [{"id": "p0", "stereo": "s", "anti": "a", "bias_type": "gender"}]})
    scores = ModelScores(kind=kind, token_sets={"crows_pairs.stereo": STEREO, "crows_pairs.anti": ANTI})
    return MetricContext(kind=kind, data=data, settings=settings, scores=scores)


@pytest.mark.parametrize(("kind", "short"), list(EXPECTED))
def test_each_crows_convention_scores_the_hand_computed_pair(kind, short):
    out = CrowsPairs().compute(_context(kind))
    preference, gap = EXPECTED[(kind, short)]
    assert out[f"{short}.stereo_preference"].value == preference
    assert out[f"{short}.logprob_gap"].value == pytest.approx(gap)


def test_default_crows_column_is_the_configured_convention():
    assert CrowsPairs().compute(_context("masked"))["stereo_preference"].value == 0.0  # metric.py
    assert CrowsPairs().compute(_context("causal"))["stereo_preference"].value == 0.0  # mean
    summed = CrowsPairs().compute(_context("causal", causal_pair_score="sum"))
    assert summed["stereo_preference"].value == summed["lm_eval.stereo_preference"].value == 100.0


def test_default_reports_every_convention_without_an_extra_pass_and_only_those():
    causal = [name for name, _ in active_conventions(None, "crows_pairs", "causal")]
    assert causal == ["crows_pairs.causal.lm_eval", "crows_pairs.causal.one_pass_mean"]
    assert not any(CONVENTIONS.get(n).extra_pass for n in causal)
    assert [n for n, _ in active_conventions(None, "crows_pairs", "masked")] == [
        "crows_pairs.masked.bias_bench",
        "crows_pairs.masked.metric_py",
    ]
    chosen = ["crows_pairs.causal.bias_bench"]
    assert [n for n, _ in active_conventions(chosen, "crows_pairs", "causal")] == chosen


def test_an_extra_pass_convention_without_its_scores_is_an_error_not_a_gap():
    with pytest.raises(ModelError, match="crows_pairs.causal.bias_bench"):
        CrowsPairs().compute(_context("causal", ["crows_pairs.causal.bias_bench"]))


def test_extra_pass_convention_reads_its_own_scores():
    ctx = _context("causal", ["crows_pairs.causal.bias_bench"])
    ctx.scores.convention_scores = {
        "crows_pairs.causal.bias_bench.stereo": np.array([-1.5]),
        "crows_pairs.causal.bias_bench.anti": np.array([-2.5]),
    }
    out = CrowsPairs().compute(ctx)
    assert out["bias_bench.stereo_preference"].value == 100.0
    assert out["bias_bench.logprob_gap"].value == pytest.approx(1.0)
    assert "lm_eval.stereo_preference" not in out  # only the listed conventions


def test_extra_pass_convention_changes_against_the_base_extra_pass():
    # base: stereo -2.5 < anti -1.5 (not preferred); tuned: -1.5 > -2.5 (preferred): +100 points, one flip
    name = "crows_pairs.causal.bias_bench"
    ctx = _context("causal", [name])
    ctx.scores.convention_scores = {f"{name}.stereo": np.array([-1.5]), f"{name}.anti": np.array([-2.5])}
    ctx.base = ModelScores("causal", token_sets=dict(ctx.scores.token_sets))
    with pytest.raises(ModelError, match=name):  # the base's extra-pass scores are needed, never skipped
        CrowsPairs().compute(ctx)
    ctx.base.convention_scores = {f"{name}.stereo": np.array([-2.5]), f"{name}.anti": np.array([-1.5])}
    out = CrowsPairs().compute(ctx)
    assert out["bias_bench.paired_change"].value == 100.0
    assert (out["bias_bench.flips_to_stereo"].value, out["bias_bench.flips_to_anti"].value) == (1.0, 0.0)
    assert out["bias_bench.mcnemar_p"].value == 1.0
    assert out["paired_change"].value == 0.0  # the default column: the same shared scores under both


def test_unknown_convention_names_the_config_key():
    with pytest.raises(ConfigError, match=r"evaluation\.conventions\[1\].*unknown scoring convention 'nope'"):
        EvaluationSettings.from_config({"conventions": ["crows_pairs.causal.lm_eval", "nope"]})
    with pytest.raises(ConfigError, match="evaluation.conventions"):
        EvaluationSettings.from_config({"conventions": "all"})
    with pytest.raises(ConfigError, match=r"conventions\[0\].*'stereoset', which evaluation.metrics does not list"):
        EvaluationSettings.from_config({"metrics": ["crows_pairs"], "conventions": ["stereoset.causal.bias_bench"]})


def test_truncated_pairs_are_counted():
    ctx = _context("causal")
    ctx.scores.truncated = {"crows_pairs": np.array([True])}
    count = CrowsPairs().compute(ctx)["truncated_items"]
    assert (count.value, count.n) == (1.0, 1)


def test_stereoset_extra_pass_convention_beside_the_shared_one():
    # 2 clusters, one target. Shared scores: cluster 0 stereotype wins, cluster 1 anti wins -> SS 50.
    # Convention scores (mean log-probs): stereotype wins both -> SS 100; unrelated always lowest -> LMS 100.
    shared = {"stereotype": [0.5, 0.1], "anti_stereotype": [0.4, 0.2], "unrelated": [0.0, 0.0]}
    logs = {"stereotype": [-1.0, -1.0], "anti_stereotype": [-2.0, -2.0], "unrelated": [-9.0, -9.0]}
    name = "stereoset.causal.bias_bench"
    records = [{"id": f"c{i}", "target": "t"} for i in range(2)]
    settings = EvaluationSettings.from_config(
        {"bootstrap_samples": 20, "conventions": [name, "stereoset.causal.one_pass"]}
    )
    scores = ModelScores(
        kind="causal",
        sentence_scores={f"stereoset.{c}": np.array(v) for c, v in shared.items()},
        convention_scores={f"{name}.{c}": np.array(v) for c, v in logs.items()},
    )
    out = StereoSet().compute(
        MetricContext(kind="causal", data=EvaluationData(stereoset=records), settings=settings, scores=scores)
    )
    assert out["ss"].value == out["one_pass.ss"].value == 50.0
    assert (out["bias_bench.ss"].value, out["bias_bench.lms"].value, out["bias_bench.icat"].value) == (
        100.0,
        100.0,
        0.0,
    )


def test_stereoset_extra_pass_convention_changes_against_the_base():
    # one target, 2 clusters; base (mean log-probs): stereotype above anti in cluster 0 only -> SS 50;
    # tuned: in both -> SS 100: change +50, one flip to the stereotype, per target the same
    name = "stereoset.causal.bias_bench"
    records = [{"id": f"c{i}", "target": "t"} for i in range(2)]
    settings = EvaluationSettings.from_config({"bootstrap_samples": 20, "conventions": [name]})
    shared = {f"stereoset.{c}": np.array([0.5, 0.5]) for c in ("stereotype", "anti_stereotype", "unrelated")}

    def scores(stereotype: list[float]) -> ModelScores:
        logs = {"stereotype": stereotype, "anti_stereotype": [-2.0, -2.0], "unrelated": [-9.0, -9.0]}
        return ModelScores("causal", sentence_scores=shared, convention_scores={
            f"{name}.{c}": np.array(v) for c, v in logs.items()})  # fmt: skip

    ctx = MetricContext(
        "causal", EvaluationData(stereoset=records), settings, scores([-1.0, -1.0]), scores([-1.0, -3.0])
    )
    out = StereoSet().compute(ctx)
    assert out["bias_bench.ss_paired_change"].value == out["bias_bench.ss_paired_change_t"].value == 50.0
    assert out["bias_bench.flips_to_stereo"].value == 1.0 and out["bias_bench.mcnemar_p"].value == 1.0
    assert out["ss_paired_change"].value == 0.0  # the shared pass: identical scores


def test_record_names_peer_start_token_and_truncation():
    record = conventions_record(None, ["crows_pairs", "stereoset"], "causal", 64)
    assert set(record) == {
        "crows_pairs.causal.lm_eval",
        "crows_pairs.causal.one_pass_mean",
        "stereoset.causal.one_pass",
    }
    lm_eval = record["crows_pairs.causal.lm_eval"]
    assert "lm_eval" in lm_eval["peer"] and lm_eval["columns"] == "crows_pairs.lm_eval.*"
    assert "BOS" in lm_eval["start_token"] and "64" in lm_eval["truncation"]


# --- bias-bench's two passes, followed line by line on the toy causal model --------------------------------
