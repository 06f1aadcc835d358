"""findings.md's bias section (fairforget.analysis.bias_section): every paired change with its CI, flips, McNemar p
and named convention; the interval over seeds where a cell has several; the fused checkpoints; deterministic."""

from __future__ import annotations

import polars as pl

from fairforget.analysis.bias_section import HEADING, render_bias
from fairforget.analysis.settings import AnalysisSettings

SETTINGS = AnalysisSettings(permutations=199, bias_metric="crows_pairs.stereo_preference")
KINDS = {"llama": "causal", "bert": "masked"}


def _frame(seeds: tuple[int, ...] = (0,)) -> pl.DataFrame:
    rows = []
    for model in ("llama", "bert"):
        for seed in seeds:
            rows.append({
                "model": model, "objective": "cda", "remedy": "none", "size": "full", "seed": seed,
                "crows_pairs.stereo_preference": 50.0 + seed,
                "crows_pairs.paired_change": -4.0 + seed, "crows_pairs.paired_change.ci_low": -8.0 + seed,
                "crows_pairs.paired_change.ci_high": -1.0 + seed, "crows_pairs.paired_change.n": 262,
                "crows_pairs.flips_to_anti": 14.0, "crows_pairs.flips_to_stereo": 4.0, "crows_pairs.mcnemar_p": 0.031,
            })  # fmt: skip
    return pl.DataFrame(rows)


def test_each_checkpoint_has_its_change_interval_flips_p_and_convention():
    text = render_bias(_frame(), SETTINGS, KINDS)
    assert text.startswith(HEADING)
    assert "### `crows_pairs.paired_change`: change in `crows_pairs.stereo_preference`" in text
    row = "| llama | `crows_pairs.causal.one_pass_mean` | cda | none | full | 0 | 262 | -4 [-8, -1] | 14 / 4 | 0.031 |"
    assert row in text
    assert "| bert | `crows_pairs.masked.metric_py` | cda | none | full | 0 |" in text
    assert "`crows_pairs.causal.lm_eval`" in render_bias(_frame(), SETTINGS, KINDS, causal_pair_score="sum")
    assert "No cell has 2 seeds or more" in text
    assert (
        "The findings' bias metric is `crows_pairs.stereo_preference`; its change: `crows_pairs.paired_change`" in text
    )


def test_cells_with_several_seeds_get_the_t_interval_over_seeds():
    # changes -4, -3, -2: mean -3, sd 1, t_{0.975,2} = 4.303: -3 +- 2.48
    text = render_bias(_frame((0, 1, 2)), SETTINGS, KINDS)
    assert "| `crows_pairs.paired_change` | llama | cda | none | full | 3 | -3 [-5.48, -0.516] | 1 |" in text


def test_the_section_is_the_same_whatever_the_row_order():
    frame = _frame((0, 1))
    assert render_bias(frame, SETTINGS, KINDS) == render_bias(frame.reverse(), SETTINGS, KINDS)


def test_fused_checkpoints_are_listed_between_the_ends():
    fusion = pl.DataFrame({
        "model": ["llama"] * 3, "objective": ["cda"] * 3, "remedy": ["none"] * 3, "size": ["full"] * 3,
        "seed": [0] * 3, "alpha": [0.0, 0.5, 1.0],
        "crows_pairs.paired_change": [None, -2.0, -4.0], "crows_pairs.paired_change.ci_low": [None, -5.0, -8.0],
        "crows_pairs.paired_change.ci_high": [None, 1.0, -1.0], "crows_pairs.mcnemar_p": [None, 0.5, 0.031],
    })  # fmt: skip
    text = render_bias(_frame(), SETTINGS, KINDS, fusion=fusion)
    assert "### Fused checkpoints: `crows_pairs.paired_change`" in text
    assert "| llama | `crows_pairs.causal.one_pass_mean` | cda | none | full | 0 | 0.5 | -2 [-5, 1] | 0.5 |" in text
    assert text.count("| 0.031 |") == 2  # the two checkpoints above; alpha 0 (the base) and 1 (a checkpoint) not again


def test_a_table_without_paired_changes_says_so():
    frame = _frame().drop([c for c in _frame().columns if "paired_change" in c or "mcnemar" in c or "flips" in c])
    assert "no paired bias change" in render_bias(frame, SETTINGS, KINDS)


def test_a_conventions_table_does_not_repeat_the_own_columns_numbers():
    own = pl.col("crows_pairs.paired_change")
    frame = _frame().with_columns(  # as the evaluation writes them: a convention's columns for its kind only
        pl.when(pl.col("model") == "bert").then(own).alias("crows_pairs.metric_py.paired_change"),
        pl.when(pl.col("model") == "llama").then(own).alias("crows_pairs.one_pass_mean.paired_change"),
    )
    text = render_bias(frame, SETTINGS, KINDS)
    # bert's own column is metric_py, llama's is one_pass_mean: each convention's table would only repeat them
    assert "crows_pairs.metric_py.paired_change" not in text and "crows_pairs.one_pass_mean.paired_change" not in text
    # under causal_pair_score "sum" llama's own column is lm_eval, so one_pass_mean's table lists llama
    summed = render_bias(frame, SETTINGS, KINDS, causal_pair_score="sum")
    assert "### `crows_pairs.one_pass_mean.paired_change`" in summed
    assert "| llama | `crows_pairs.causal.one_pass_mean` |" in summed.split("one_pass_mean.paired_change`")[1]
