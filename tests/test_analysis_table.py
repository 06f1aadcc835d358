"""The tidy table and the findings on synthetic studies with known relations."""

from statistics import fmean

import polars as pl
import pytest

from fairforget.analysis.findings import CONTRADICTS, INCONCLUSIVE, SUPPORTS, compute_findings, render_findings
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.analysis.table import build_run_table, write_run_table
from fairforget.errors import ConfigError, DataError
from fairforget.io import read_json, write_json

FAST = AnalysisSettings(bootstrap_samples=200)


def _table(tmp_path, study):
    paths = write_synthetic_study(tmp_path, study)
    table = build_run_table(paths.eval_paths, paths.downstream_paths, paths.trajectory_paths, paths.meta_paths)
    return paths, table


def test_one_row_per_run_with_downstream_change_from_files(tmp_path):
    study = SyntheticStudy(remedies=("none", "replay"), seeds=(0, 1), downstream_seeds=(0, 1))
    paths, table = _table(tmp_path, study)
    frame = table.frame
    assert frame.height == 2 * 2 * 2 * 2
    assert frame["run_id"].n_unique() == frame.height
    row = frame.filter(pl.col("run_id") == "llama-tiny__cda__replay__full__seed1").row(0, named=True)
    # Recompute by hand from the result files.
    tuned = {t: fmean(read_json(p)["metrics"][f"downstream.{t}.accuracy"]["value"] for p in paths.downstream_paths
                      if "llama-tiny/cda/replay/full/seed1/" in p.as_posix() and f"/{t}/" in p.as_posix())
             for t in study.tasks}
    base = {t: fmean(read_json(p)["metrics"][f"downstream.{t}.accuracy"]["value"] for p in paths.downstream_paths
                     if "downstream/base/llama-tiny/" in p.as_posix() and f"/{t}/" in p.as_posix())
            for t in study.tasks}
    for task in study.tasks:
        assert row[f"downstream.{task}.accuracy"] == pytest.approx(tuned[task])
        assert row[f"downstream.{task}.accuracy.change"] == pytest.approx(tuned[task] - base[task])
        assert row[f"downstream.{task}.n_seeds"] == 2
    assert row["downstream.mean_change"] == pytest.approx(fmean(tuned[t] - base[t] for t in study.tasks))
    truth = paths.truth["llama-tiny/cda/replay/full/seed1".replace("/", "__")]
    assert row["overall_forgetting.mean_loss_change"] == pytest.approx(truth["overall"])
    # Bias metric scored on the base model too: base value and change columns.
    assert row["planted.stereo_preference.change"] == pytest.approx(row["planted.stereo_preference"] - 90.0)
    # Primary metric from the results' `primary_metric` (accuracy), not the distractor f1.
    assert row["downstream.sst2.f1.change"] == pytest.approx(-0.2)
    assert row["checkpoint_hash"] and row["base_hash"] and row["checkpoint_hash"] != row["base_hash"]
    assert row["probe_trajectory.general.n_items"] == 20


def test_written_table_and_dictionary(tmp_path):
    _, table = _table(tmp_path, SyntheticStudy())
    write_run_table(table, tmp_path / "t/runs.parquet", tmp_path / "t/runs.csv", tmp_path / "t/dict.md")
    assert pl.read_parquet(tmp_path / "t/runs.parquet").equals(table.frame)
    assert pl.read_csv(tmp_path / "t/runs.csv").height == table.frame.height
    dictionary = (tmp_path / "t/dict.md").read_text()
    for column in table.frame.columns:
        assert f"`{column}`" in dictionary
    assert "primary metric per task" in dictionary


def test_stale_result_is_refused_naming_file(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy(models=("bert-tiny",)))
    target = next(p for p in paths.eval_paths if "finetuned" in p.as_posix())
    record = read_json(target)
    record["checkpoint_hash"] = "0" * 64
    write_json(target, record)
    with pytest.raises(DataError, match=str(target).replace(".", r"\.") + ".*stale"):
        build_run_table(paths.eval_paths, paths.downstream_paths)


def test_bad_metric_value_and_bad_path_name_the_file(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy(models=("bert-tiny",)))
    target = paths.eval_paths[-1]
    record = read_json(target)
    record["metrics"]["overall_forgetting.mean_loss_change"]["value"] = "high"
    write_json(target, record)
    with pytest.raises(DataError, match="must be a number"):
        build_run_table(paths.eval_paths)
    with pytest.raises(DataError, match="not a eval_finetuned or eval_base path"):
        build_run_table([tmp_path / "somewhere/else.json"])


def test_unknown_analysis_key_is_a_config_error():
    with pytest.raises(ConfigError, match="analysis"):
        AnalysisSettings.from_config({"analysis": {"bootstrap_sample": 10}})


def test_findings_follow_the_data(tmp_path):
    study = SyntheticStudy(remedies=("none", "replay"), seeds=(0, 1, 2))
    _, table = _table(tmp_path / "a", study)
    f1, f2, f3 = compute_findings(table.frame, FAST)
    assert (f1.verdict, f2.verdict, f3.verdict) == (SUPPORTS, SUPPORTS, SUPPORTS)
    assert f1.associations[0].pearson.value < -0.9 and f1.associations[0].ols.slope == pytest.approx(-2, abs=0.2)
    assert f2.x == "selective_forgetting.stereo_minus_anti_loss_change"
    assert f2.associations[0].ols.slope == pytest.approx(0.8, abs=0.1)
    text = render_findings([f1, f2, f3], table.frame, FAST)
    assert "**Verdict: supports**" in text and "Rule:" in text

    # Reverse the relations: downstream improves with forgetting, remedy lowers forgetting.
    reversed_study = SyntheticStudy(remedies=("none", "replay"), seeds=(0, 1, 2), downstream_slope=2.0,
                                    f_slope=-0.8, remedy_effect=-0.5)
    _, table = _table(tmp_path / "b", reversed_study)
    f1, f2, f3 = compute_findings(table.frame, FAST)
    assert (f1.verdict, f2.verdict, f3.verdict) == (CONTRADICTS, CONTRADICTS, CONTRADICTS)


def test_findings_with_too_few_runs_are_inconclusive(tmp_path):
    _, table = _table(tmp_path, SyntheticStudy(models=("bert-tiny",)))  # 2 runs
    findings = compute_findings(table.frame, FAST)
    assert [f.verdict for f in findings] == [INCONCLUSIVE] * 3
    assert "n=2 < 3" in findings[0].reason
    assert "no remedy besides" in findings[2].reason
    text = render_findings(findings, table.frame, FAST)
    assert "undefined (n=2 < 3 paired values)" in text


def test_configured_primary_metric_and_deterministic_findings(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy(seeds=(0, 1)))
    settings = AnalysisSettings(bootstrap_samples=100, primary_metrics={"sst2": "f1", "rte": "f1"})
    frame = build_run_table(paths.eval_paths, paths.downstream_paths, meta_paths=paths.meta_paths,
                            settings=settings).frame
    assert frame["downstream.mean_change"].to_list() == pytest.approx([-0.2] * frame.height)
    first = render_findings(compute_findings(frame, settings), frame, settings)
    again = render_findings(compute_findings(frame, settings), frame, settings)
    assert first == again


def test_table_files_are_bit_identical_on_rerun(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy())
    outputs = []
    for attempt in ("a", "b"):
        table = build_run_table(paths.eval_paths, paths.downstream_paths, paths.trajectory_paths, paths.meta_paths)
        out = tmp_path / attempt
        write_run_table(table, out / "runs.parquet", out / "runs.csv", out / "dict.md")
        outputs.append([(out / n).read_bytes() for n in ("runs.parquet", "runs.csv", "dict.md")])
    assert outputs[0] == outputs[1]


def test_dictionary_describes_known_statistics():
    from fairforget.analysis.dictionary import describe

    assert "on the stereotypical sentences" in describe("selective_forgetting.stereo_mean_loss_change")
    assert "tuned minus base" in describe("planted.stereo_preference.change")
    assert "`mystery_stat`" in describe("overall_forgetting.mystery_stat")


def test_verdict_rule_needs_both_cis_and_respects_partial_veto():
    from fairforget.analysis.findings import Association, _sign_verdict
    from fairforget.analysis.stats import Estimate, OlsFit

    def pooled(ci, fisher, partial=None):
        r = Estimate("pearson", 20, value=-0.8, ci_low=ci[0], ci_high=ci[1], p_value=1e-4,
                     extra={"fisher_z_ci": fisher})
        return Association("pooled", r, r, OlsFit(n=20), partial)

    assert _sign_verdict(pooled((-0.9, -0.6), (-0.9, -0.5)), -1, 0.05)[0] == SUPPORTS
    assert _sign_verdict(pooled((-0.9, -0.6), (-0.9, -0.5)), +1, 0.05)[0] == CONTRADICTS
    assert _sign_verdict(pooled((-0.9, -0.6), (-0.9, 0.1)), -1, 0.05)[0] == INCONCLUSIVE
    veto = Estimate("partial_pearson", 20, value=0.5, ci_low=0.1, ci_high=0.8, p_value=0.01)
    assert _sign_verdict(pooled((-0.9, -0.6), (-0.9, -0.5), veto), -1, 0.05)[0] == INCONCLUSIVE
    weak = Estimate("partial_pearson", 20, value=0.2, ci_low=-0.3, ci_high=0.6, p_value=0.4)
    assert _sign_verdict(pooled((-0.9, -0.6), (-0.9, -0.5), weak), -1, 0.05)[0] == SUPPORTS
    # symmetric: a pooled r against the claim is no contradiction when the within-group association
    # significantly has the claimed sign (the toy study's F2: pooled -0.72, within-model partial +0.61, p=0.015)
    assert _sign_verdict(pooled((-0.9, -0.6), (-0.9, -0.5), veto), +1, 0.05)[0] == INCONCLUSIVE
    assert _sign_verdict(pooled((-0.9, -0.6), (-0.9, -0.5), weak), +1, 0.05)[0] == CONTRADICTS


def test_stale_base_evaluation_is_refused(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy(models=("bert-tiny",)))
    base_eval = next(p for p in paths.eval_paths if "/eval/base/" in p.as_posix())
    record = read_json(base_eval)
    record["checkpoint_hash"] = "e" * 64
    write_json(base_eval, record)
    with pytest.raises(DataError, match="base evaluation is stale"):
        build_run_table(paths.eval_paths)


def test_stale_downstream_result_is_refused(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy(models=("bert-tiny",)))
    target = next(p for p in paths.downstream_paths if "/downstream/base/" in p.as_posix())
    record = read_json(target)
    record["checkpoint_hash"] = "d" * 64
    write_json(target, record)
    with pytest.raises(DataError, match=str(target).replace(".", r"\.") + ".*stale"):
        build_run_table(paths.eval_paths, paths.downstream_paths)
