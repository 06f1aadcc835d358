"""Weight-space fusion (fairforget.fusion.weights, fairforget.fusion.settings) and its analysis (fairforget.fusion),
on cases small enough to compute by hand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest
import torch

from fairforget.analysis.figure_set import styled
from fairforget.analysis.frontier_figure import bias_frontier
from fairforget.analysis.numbers import snap_zero
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.analysis.table import read_run_table
from fairforget.config import run_grid
from fairforget.errors import ConfigError, ModelError
from fairforget.fusion.report import render_fusion
from fairforget.fusion.settings import FusionSettings, alpha_label, fused_runs
from fairforget.fusion.table import ALPHA, Columns
from fairforget.fusion.verdict import MeanTest, analyse_fusion, best_alpha, frontier_verdict
from fairforget.fusion.weights import fuse_into, fuse_model_dirs, fusion_record, interpolate_tensors
from fairforget.models.modeldir import load_model_dir, save_model_dir, verify_model_dir, write_sidecar
from figure_checks import data_problems, legend_problems, plotted_runs, text_overlaps, texts_outside
from objectives_helpers import tiny

# ------------------------------------------------------------------------------------------------ the weights


def test_interpolation_by_hand():
    base = {"w": torch.tensor([0.0, 2.0]), "b": torch.tensor([4.0]), "ids": torch.tensor([0, 1])}
    debiased = {"w": torch.tensor([2.0, 6.0]), "b": torch.tensor([0.0]), "ids": torch.tensor([0, 1])}
    fused = interpolate_tensors(base, debiased, 0.25)
    # 0.75 * [0, 2] + 0.25 * [2, 6] = [0.5, 3.0];  0.75 * 4 + 0.25 * 0 = 3
    assert fused["w"].tolist() == [0.5, 3.0]
    assert fused["b"].tolist() == [3.0]
    assert fused["ids"].tolist() == [0, 1]  # integer buffers are kept, not interpolated
    assert interpolate_tensors(base, debiased, 1.0)["w"].tolist() == [2.0, 6.0]
    assert interpolate_tensors(base, debiased, 0.0)["b"].tolist() == [4.0]


def test_interpolation_rounds_half_precision_once():
    base = {"w": torch.tensor([1.0], dtype=torch.bfloat16)}
    debiased = {"w": torch.tensor([1.0078125], dtype=torch.bfloat16)}  # the next bf16 after 1
    fused = interpolate_tensors(base, debiased, 0.75)
    assert fused["w"].dtype == torch.bfloat16
    assert fused["w"].item() == 1.0078125  # 1.005859375 in float64, rounded once to the nearest bf16


@pytest.mark.parametrize(
    ("base", "debiased", "alpha", "message"),
    [
        ({"w": torch.zeros(2)}, {"w": torch.zeros(2)}, 1.5, "must lie in"),
        ({"w": torch.zeros(2)}, {"w": torch.zeros(3)}, 0.5, "tensor w is"),
        ({"w": torch.zeros(2)}, {"v": torch.zeros(2)}, 0.5, "different tensors"),
        ({"i": torch.tensor([1])}, {"i": torch.tensor([2])}, 0.5, "non-floating tensor i differs"),
    ],
)
def test_interpolation_refuses_bad_input(base, debiased, alpha, message):
    with pytest.raises(ModelError, match=message):
        interpolate_tensors(base, debiased, alpha)


@pytest.fixture(scope="module")
def parents(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny causal base model and a 'debiased' child of it (its weights moved by hand)."""
    root = tmp_path_factory.mktemp("fusion_parents")
    model, tokenizer = tiny("causal", seed=0)
    base = root / "base"
    save_model_dir(model, tokenizer, base, "causal")
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.5)
    debiased = root / "debiased"
    save_model_dir(model, tokenizer, debiased, "causal", parent_hash=verify_model_dir(base)["content_hash"])
    return base, debiased


def test_the_ends_are_the_parents_content(parents, tmp_path):
    base, debiased = parents
    at_one = fuse_model_dirs(base, debiased, 1.0, tmp_path / "one")
    at_zero = fuse_model_dirs(base, debiased, 0.0, tmp_path / "zero")
    assert at_one["content_hash"] == verify_model_dir(debiased)["content_hash"]
    assert at_zero["content_hash"] == verify_model_dir(base)["content_hash"]
    half = fuse_model_dirs(base, debiased, 0.5, tmp_path / "half")
    assert half["content_hash"] not in (at_one["content_hash"], at_zero["content_hash"])


def test_fused_directory_loads_with_the_interpolated_weights_and_records_both_parents(parents, tmp_path):
    base, debiased = parents
    manifest = fuse_model_dirs(base, debiased, 0.5, tmp_path / "half", run={"model": "m", "alpha": 0.5})
    record = fusion_record(tmp_path / "half")
    assert record["alpha"] == 0.5
    assert record["base_hash"] == verify_model_dir(base)["content_hash"]
    assert record["debiased_hash"] == verify_model_dir(debiased)["content_hash"]
    assert manifest["parent_hash"] == record["base_hash"]  # what the evaluation and downstream stages check
    fused = load_model_dir(tmp_path / "half").model.state_dict()
    low, high = load_model_dir(base).model.state_dict(), load_model_dir(debiased).model.state_dict()
    for name, value in fused.items():
        torch.testing.assert_close(value, (low[name] + high[name]) / 2)
    # deterministic: fusing again gives the same content hash
    assert fuse_model_dirs(base, debiased, 0.5, tmp_path / "again")["content_hash"] == manifest["content_hash"]


def test_fuse_into_checks_the_parents_sidecars(parents, tmp_path):
    base, debiased = parents
    write_sidecar(base, tmp_path / "base.sha256")
    (tmp_path / "debiased.sha256").write_text("0" * 64 + "\n")
    sidecars = (base, tmp_path / "base.sha256", debiased, tmp_path / "debiased.sha256")
    out = (tmp_path / "f", tmp_path / "f.sha256")
    with pytest.raises(ModelError, match="debiased.sha256: hash does not match"):
        fuse_into(*sidecars, 0.5, *out)
    write_sidecar(debiased, tmp_path / "debiased.sha256")
    digest = fuse_into(*sidecars, 0.5, *out, code={"id": "x"})
    assert (tmp_path / "f.sha256").read_text().strip() == digest
    assert json.loads((tmp_path / "f" / "manifest.json").read_text())["code"] == {"id": "x"}


def test_unmerged_adapter_and_mismatched_kinds_are_refused(parents, tmp_path):
    base, debiased = parents
    adapter = tmp_path / "adapter"
    shutil.copytree(debiased, adapter)
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelError, match="unmerged LoRA adapter"):
        fuse_model_dirs(base, adapter, 0.5, tmp_path / "out")
    model, tokenizer = tiny("masked", seed=0)
    save_model_dir(model, tokenizer, tmp_path / "masked", "masked")
    with pytest.raises(ModelError, match="cannot fuse"):
        fuse_model_dirs(base, tmp_path / "masked", 0.5, tmp_path / "out")


def test_lora_checkpoint_fuses_after_merging(parents, tmp_path):
    """The lora remedy's checkpoint is saved merged (merge_and_unload): a plain model directory that fuses."""
    from fairforget.training.adapters import apply_lora

    base, _ = parents
    loaded = load_model_dir(base)
    wrapped = apply_lora(loaded.model, r=2, alpha=4, dropout=0.0, target_modules=["q_proj"], config_key="t", seed=0)
    with torch.no_grad():
        for name, param in wrapped.named_parameters():
            if "lora_B" in name:
                param.fill_(0.1)  # B = 0 at initialisation would merge to the base weights
    merged = wrapped.merge_and_unload()
    save_model_dir(merged, loaded.tokenizer, tmp_path / "lora", "causal")
    fuse_model_dirs(base, tmp_path / "lora", 0.5, tmp_path / "fused")
    fused = load_model_dir(tmp_path / "fused").model.state_dict()
    low, high = load_model_dir(base).model.state_dict(), load_model_dir(tmp_path / "lora").model.state_dict()
    name = next(n for n in fused if "q_proj.weight" in n)
    assert not torch.equal(low[name], high[name])
    torch.testing.assert_close(fused[name], (low[name] + high[name]) / 2)


# ------------------------------------------------------------------------------------------------ the settings


def test_settings_filter_and_checks(toy_config):
    config = {**toy_config, "fusion": {"enabled": True, "alphas": [1, 0.5, 0], "objectives": ["cda"]}}
    settings = FusionSettings.from_config(config)
    assert settings.alphas == (0.0, 0.5, 1.0) and settings.fused_alphas == [0.5]
    runs = fused_runs(settings, run_grid(config))
    assert runs and {(r.objective, r.remedy) for r in runs} == {("cda", "none")}
    assert fused_runs(FusionSettings.from_config({"fusion": {}}), run_grid(config)) == []  # off by default
    assert [alpha_label(a) for a in (0.25, 0.5, 0.125, 1e-5, 0, 1)] == ["0.25", "0.5", "0.125", "0.00001", "0", "1"]
    with pytest.raises(ConfigError, match="fusion.objectives': cdx not in"):
        FusionSettings.from_config({"fusion": {"objectives": ["cdx"]}}).check_against(config)
    with pytest.raises(ConfigError, match="fusion.alphas"):
        FusionSettings.from_config({"fusion": {"alphas": [0.5, 0.5]}})
    with pytest.raises(ConfigError, match="unknown key"):
        FusionSettings.from_config({"fusion": {"alpha": [0.5]}})


# ------------------------------------------------------------------------------------------------ the analysis


def test_best_alpha_by_hand():
    forgetting = {0.0: 0.0, 0.5: 0.04, 0.75: 0.07, 1.0: 0.1}
    reduction = {0.0: 0.0, 0.5: 20.0, 0.75: 30.0, 1.0: 40.0}
    # share 0.5: allowed 0, 0.5 (0.04 <= 0.05); 0.75 forgets 0.07 > 0.05
    assert best_alpha(forgetting, reduction, 0.5)[0] == 0.5
    assert best_alpha(forgetting, reduction, 0.75)[0] == 0.75  # 0.07 <= 0.075
    assert best_alpha(forgetting, reduction, 1.0)[0] == 1.0
    assert best_alpha({0.0: 0.0, 1.0: -0.01}, {0.0: 0.0, 1.0: 5.0}, 0.5)[0] == 1.0  # nothing to undo


def test_frontier_verdicts_by_hand():
    def mean(values):
        return MeanTest.of(np.array(values, dtype=float), 0.05, 999, 0)

    down = mean([-1.0, -2.0, -1.5, -1.2, -1.1, -1.3])  # six negative pairs: exact sign-flip p = 2/64
    up = mean([1.0, 2.0, 1.5, 1.2, 1.1, 1.3])
    noise = mean([1.0, -1.0, 0.5, -0.5, 0.2, -0.2])
    assert down.p == pytest.approx(2 / 64)
    assert frontier_verdict(down, noise, 0.05)[0] == "fusion dominates"  # less forgetting, no worse on bias
    assert frontier_verdict(up, noise, 0.05)[0] == "remedy dominates"
    assert frontier_verdict(down, down, 0.05)[0] == "trade-off"  # less forgetting but less bias reduction
    assert frontier_verdict(noise, noise, 0.05)[0] == "inconclusive"
    five = mean([-1.0, -2.0, -1.5, -1.2, -1.1])  # five pairs: the smallest p is 2/32 > 0.05
    assert frontier_verdict(five, five, 0.05)[0] == "inconclusive"


def test_frontier_verdict_needs_every_model_to_agree():
    def mean(values, models):
        return MeanTest.of(np.array(values, dtype=float), 0.05, 999, 0, np.array(models))

    models = ["bert"] * 6 + ["llama"] * 6
    llama = [-3.0, -2.0, -4.0, -3.0, -2.0, -4.0]
    noise = mean([1.0, -1.0, 0.5, -0.5, 0.2, -0.2] * 2, models)
    # llama's large scale drives the mean below 0 (exact p = 2 x 2^6 / 2^12 = 1/32: the six llama pairs' signs);
    # bert's own mean is +0.01: not claimed
    split = mean([0.01] * 6 + llama, models)
    assert split.p == pytest.approx(1 / 32) and not split.agrees()
    assert split.per_model == pytest.approx({"bert": 0.01, "llama": -3.0})
    verdict, reason = frontier_verdict(split, noise, 0.05)
    assert verdict == "inconclusive" and "disagree in sign" in reason and "bert 0.01" in reason
    agreeing = mean([-0.01] * 6 + llama, models)
    assert agreeing.agrees() and frontier_verdict(agreeing, noise, 0.05)[0] == "fusion dominates"
    # a significant loss blocks dominance even when the models disagree on it (less bias reduction, split)
    assert frontier_verdict(agreeing, split, 0.05)[0] == "inconclusive"
    assert frontier_verdict(agreeing, agreeing, 0.05)[0] == "trade-off"


def _fusion_frames(units: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A run table and a fusion table with a known path: forgetting linear in alpha (0.1 alpha), bias
    |preference - 50| from 40 at the base down to 10 at alpha = 1, with a convex path (most of the reduction
    by alpha = 0.5); remedy l2sp forgets 0.08 with a distance of 20."""
    f, dist = "overall_forgetting.mean_loss_change", "planted.stereo_preference"
    runs, fused = [], []
    path = {0.0: (0.0, 90.0), 0.5: (0.05, 65.0), 1.0: (0.1, 60.0)}
    for unit in range(units):
        common = {"model": f"m{unit}", "objective": "cda", "size": "full", "seed": 0, f"{dist}.base": 90.0}
        jitter = 0.001 * unit
        runs.append({**common, "remedy": "none", f: 0.1 + jitter, dist: 60.0, "downstream.mean_change": -0.02})
        runs.append({**common, "remedy": "l2sp", f: 0.08 + jitter, dist: 70.0, "downstream.mean_change": -0.01})
        for alpha, (forgetting, value) in path.items():
            fused.append(
                {
                    **common,
                    "remedy": "none",
                    ALPHA: alpha,
                    f: forgetting + jitter * alpha,
                    dist: value,
                    "downstream.mean_change": -0.02 * alpha,
                }
            )
    return pl.DataFrame(fused), pl.DataFrame(runs)


def test_analysis_on_a_known_path():
    fusion_frame, run_frame = _fusion_frames(units=8)
    settings = AnalysisSettings(permutations=999)
    result = analyse_fusion(fusion_frame, run_frame, settings, FusionSettings(enabled=True, forgetting_share=0.5))
    path = result.paths[0]
    # alpha 0.5 forgets 0.05 + 0.0005 u <= 0.5 x (0.1 + 0.001 u): allowed, and reduces |90 - 50| - |65 - 50| = 25
    assert path.best == 0.5 and path.candidates == 3
    assert path.best_reduction.mean == pytest.approx(25.0)
    assert path.reduction[1.0] == pytest.approx(30.0)
    assert path.best_forgetting.mean == pytest.approx(0.05 + 0.0005 * 3.5)
    (comparison,) = result.comparisons
    # vs l2sp: forgetting 0.05.. vs 0.08..: less in all 8 pairs (exact p = 2/256); bias reduction 25 vs 20: more.
    # Selection over K = 3 weights: 3 x 2/256; Holm over the 2 tests, both that small: 2 x 3 x 2/256 = 0.047.
    assert comparison.forgetting.p == pytest.approx(2 / 256)
    assert comparison.forgetting.adjusted == pytest.approx(2 * 3 * 2 / 256)
    assert comparison.reduction.adjusted == pytest.approx(2 * 3 * 2 / 256)
    assert comparison.remedy == "l2sp" and comparison.verdict == "fusion dominates"
    # the smallest Holm threshold 0.05 / (3 x 2) needs 2^(1-n) below it: n >= 8
    assert result.smallest_level == pytest.approx(0.05 / 6) and result.min_units_to_detect == 8
    text = render_fusion(result, settings)
    assert "| cda | 8 | 0.5 (" in text and "fusion dominates" in text and "Not detectable" not in text


def test_analysis_says_what_too_few_units_cannot_detect():
    for units in (2, 6):  # six pairs would reach p = 2/64 < 0.05 unadjusted, not the adjusted threshold 0.05/6
        fusion_frame, run_frame = _fusion_frames(units=units)
        settings = AnalysisSettings(permutations=999)
        result = analyse_fusion(fusion_frame, run_frame, settings, FusionSettings(enabled=True))
        assert result.comparisons[0].verdict == "inconclusive"
        text = render_fusion(result, settings)
        assert f"Not detectable here: with {units} matched unit(s)" in text and "at least 8 units" in text
        # the best-alpha rows (threshold 0.05 / 3): 2^(1-n) < 1/60 needs n >= 7
        assert "best-α rows' tests (threshold 0.05 / 3 weights) cannot reject" in text and "at least 7 are" in text
        assert f"with {units} unit(s) either:" in text  # after the fused-vs-remedy sentence


def test_without_other_remedies_only_the_best_alpha_limit_is_said():
    fusion_frame, run_frame = _fusion_frames(units=2)
    settings = AnalysisSettings(permutations=999)
    result = analyse_fusion(
        fusion_frame, run_frame.filter(pl.col("remedy") == "none"), settings, FusionSettings(enabled=True)
    )
    assert result.comparisons == []
    assert result.undetectable == (
        "The best-α rows' tests (threshold 0.05 / 3 weights) cannot reject with 2 unit(s): at least 7 are needed."
    )


def test_values_zero_up_to_float_error_render_as_zero():
    assert snap_zero(1.39e-17, 0.1) == 0.0 and snap_zero(-2e-14, 40.0) == 0.0
    assert snap_zero(1e-6, 0.1) == 1e-6 and snap_zero(None, 1.0) is None
    assert snap_zero(1e-20, 0.0) == 1e-20  # no scale: nothing to be small against
    # 0.1 + 0.2 - 0.3 is 5.55e-17, not 0: a path whose best-alpha difference is such noise prints 0
    fusion_frame, run_frame = _fusion_frames(units=2)
    f = "overall_forgetting.mean_loss_change"
    noisy = fusion_frame.with_columns(pl.when(pl.col(ALPHA) == 0.0).then(0.1 + 0.2 - 0.3).otherwise(pl.col(f)).alias(f))
    settings = AnalysisSettings(permutations=99)
    result = analyse_fusion(noisy, run_frame, settings, FusionSettings(enabled=True))
    assert result.paths[0].forgetting[0.0] == pytest.approx(5.55e-17, rel=0.01)  # the stored value is kept
    text = render_fusion(result, settings)
    assert "e-17" not in text and "| cda | 2 | 0 / 0 / 0 |" in text


def test_columns_are_the_frontier_figures():
    _, run_frame = _fusion_frames(units=2)
    c = Columns.of(run_frame, AnalysisSettings())
    assert (c.forgetting, c.bias, c.ideal) == ("overall_forgetting.mean_loss_change", "planted.stereo_preference", 50)


def test_frontier_draws_one_path_per_fused_run_and_stays_readable(tmp_path):
    study = SyntheticStudy(objectives=("none", "cda", "unlikelihood"), remedies=("none", "l2sp"))
    frame = read_run_table(write_synthetic_study(tmp_path, study).aggregate({"analysis": {"permutations": 199}}))
    settings = AnalysisSettings(permutations=199)
    c = Columns.of(frame, settings)
    units = frame.filter(pl.col("remedy") == "none")
    ends = units.with_columns(pl.lit(1.0).alias(ALPHA))
    base = units.with_columns(
        pl.lit(0.0).alias(ALPHA), pl.lit(0.0).alias(c.forgetting), pl.col(f"{c.bias}.base").alias(c.bias)
    )
    half = units.with_columns(
        pl.lit(0.5).alias(ALPHA), (pl.col(c.forgetting) / 4), ((pl.col(c.bias) + pl.col(f"{c.bias}.base")) / 2)
    )
    columns = ["model", "objective", "remedy", "size", "seed", ALPHA, c.forgetting, c.bias, f"{c.bias}.base"]
    fusion = pl.concat([part.select(columns) for part in (base, half, ends)])
    # drawn as the figures rule draws them (the figures' rc settings)
    plain = styled(lambda: bias_frontier(frame, settings))()
    fused = styled(lambda: bias_frontier(frame, settings, fusion=fusion))()
    try:
        for problems in (text_overlaps(fused), texts_outside(fused), legend_problems(fused), data_problems(fused)):
            assert not problems, problems
        assert plotted_runs(fused) == plotted_runs(plain)  # the paths are not counted as runs
        paths = [line for ax in fused.axes for line in ax.get_lines() if (line.get_gid() or "").startswith("fusion")]
        assert len(paths) == units.height and all(len(line.get_xdata()) == 3 for line in paths)
        assert any("fusion path, α = 0, 0.5, 1" in text.get_text() for text in fused.legends[0].get_texts())
    finally:
        plt.close(plain)
        plt.close(fused)


def test_fusion_table_and_findings_from_result_files(tmp_path):
    """The fusion table and findings.md's fusion section from files laid out as the fusion rules write them (the
    fused results here are copies of the runs' own, so the alpha = 0.5 rows must equal the alpha = 1 rows)."""
    from fairforget import pipeline
    from fairforget.analysis.results import classify
    from fairforget.fusion.table import read_fusion_table

    config = {"analysis": {"permutations": 199}, "fusion": {"enabled": True, "alphas": [0, 0.5, 1]}}
    paths = write_synthetic_study(tmp_path, SyntheticStudy(objectives=("none", "cda"), remedies=("none", "l2sp")))
    run_table = paths.aggregate(config)
    shared, fused = ([], []), ([], [])
    for index, group in enumerate((paths.eval_paths, paths.downstream_paths)):
        for path in map(Path, group):
            info = classify(path)
            if "objective" not in info.fields:
                shared[index].append(path)
            elif info.fields["remedy"] == "none":
                copy = paths.results / "fusion" / "alpha0.5" / path.relative_to(paths.results)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, copy)
                fused[index].append(copy)
    out = tmp_path / "fusion.parquet"
    rows = pipeline.fusion_table(
        run_table,
        shared[0] + fused[0],
        shared[1] + fused[1],
        paths.meta_paths,
        [],
        out,
        tmp_path / "fusion.csv",
        config,
        repo_root=paths.repo,
    )
    table = read_fusion_table(out)
    runs = read_run_table(run_table).filter(pl.col("remedy") == "none")
    assert rows == table.height == 3 * runs.height
    c = Columns.of(read_run_table(run_table), AnalysisSettings())
    half, one = (table.filter(pl.col(ALPHA) == a).sort(["model", "objective", "seed"]) for a in (0.5, 1.0))
    assert (
        half[c.forgetting].to_list() == one[c.forgetting].to_list() and half[c.bias].to_list() == one[c.bias].to_list()
    )
    zero = table.filter(pl.col(ALPHA) == 0.0)
    assert (
        zero[c.forgetting].to_list() == [0.0] * runs.height
        and zero[c.bias].to_list() == zero[f"{c.bias}.base"].to_list()
    )
    assert (tmp_path / "fusion.provenance.json").is_file()
    findings = tmp_path / "findings.md"
    pipeline.findings(run_table, findings, config, repo_root=paths.repo, fusion_table_path=out)
    text = findings.read_text()
    assert text.index("## Fusion") > text.index("F1") and "| l2sp |" in text
