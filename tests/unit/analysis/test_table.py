"""The tidy table and the findings on synthetic studies with known relations."""

from statistics import fmean

import polars as pl
import pytest

from fairforget.analysis.claims import CONTRADICTS, INCONCLUSIVE, SUPPORTS
from fairforget.analysis.findings import compute_findings
from fairforget.analysis.markdown import render_findings
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.analysis.table import build_run_table, write_run_table
from fairforget.errors import DataError
from fairforget.io import read_json, write_json

FAST = AnalysisSettings(permutations=199)
# Five objectives: 120 objective relabellings, enough for a permutation p < 0.05 (docs/metrics.md, section 9).
OBJECTIVES = ("none", "cda", "dropout", "unlikelihood", "consistency")


def _table(tmp_path, study):
    paths = write_synthetic_study(tmp_path, study)
    table = build_run_table(
        paths.eval_paths,
        paths.downstream_paths,
        paths.trajectory_paths,
        paths.meta_paths,
        summary_paths=paths.summary_paths,
    )
    return paths, table


def test_one_row_per_run_with_downstream_change_from_files(tmp_path):
    study = SyntheticStudy(remedies=("none", "replay"), seeds=(0, 1), downstream_seeds=(0, 1))
    paths, table = _table(tmp_path, study)
    frame = table.frame
    assert frame.height == 2 * 2 * 2 * 2
    assert frame["run_id"].n_unique() == frame.height
    row = frame.filter(pl.col("run_id") == "llama-tiny__cda__replay__full__seed1").row(0, named=True)
    # Recompute by hand from the result files.
    tuned = {
        t: fmean(
            read_json(p)["metrics"][f"downstream.{t}.accuracy"]["value"]
            for p in paths.downstream_paths
            if "llama-tiny/cda/replay/full/seed1/" in p.as_posix() and f"/{t}/" in p.as_posix()
        )
        for t in study.tasks
    }
    base = {
        t: fmean(
            read_json(p)["metrics"][f"downstream.{t}.accuracy"]["value"]
            for p in paths.downstream_paths
            if "downstream/base/llama-tiny/" in p.as_posix() and f"/{t}/" in p.as_posix()
        )
        for t in study.tasks
    }
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
    assert row["training.n_debias_texts"] == 1000  # `full` in the synthetic study


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


# F3's unit is the seed: with 7 seeds the smallest two-sided sign-flip p, 2/2^7 = 0.016, beats Holm's first
# threshold over its 2 tests (0.025), and the smallest TOST p, 1/2^7, beats alpha.
F3_SEEDS = tuple(range(7))


def test_findings_follow_the_data(tmp_path):
    study = SyntheticStudy(objectives=OBJECTIVES, remedies=("none", "replay"), seeds=F3_SEEDS)
    _, table = _table(tmp_path / "a", study)
    settings = AnalysisSettings(permutations=199, downstream_equivalence_margin=0.1)
    f1, f2, f3 = compute_findings(table.frame, settings)
    assert (f1.verdict, f2.verdict, f3.verdict) == (SUPPORTS, SUPPORTS, SUPPORTS), (f1.reason, f2.reason, f3.reason)
    assert f1.sign_test.slope.within.estimate == pytest.approx(-2, abs=0.2)
    assert f1.unique.unique[0] > f1.unique.unique[1]
    assert f2.x == "selective_forgetting.stereo_minus_anti_loss_change"
    assert f2.sign_test.slope.within.estimate == pytest.approx(0.8, abs=0.1)
    assert f2.sign_test.power.mde is not None and f2.sign_test.power.mde < 0.8
    text = render_findings([f1, f2, f3], table.frame, settings)
    assert "**Verdict: supports**" in text and "Rule:" in text and "Tests:" in text
    for shown in (
        "pooled (ignores the model",
        "**within model**",
        "model=bert-tiny",
        "Holm p",
        "TOST p per model (margin)",
        "MDE",
        "Equivalence margins",
        "unit of replication: the seed",
        "contradicts: smallest attainable p 0.0156 vs the 0.025 it must beat",
    ):
        assert shown in text, shown

    # Reverse the relations: downstream improves with forgetting, remedy lowers forgetting.
    reversed_study = SyntheticStudy(
        objectives=OBJECTIVES,
        remedies=("none", "replay"),
        seeds=F3_SEEDS,
        downstream_slope=2.0,
        f_slope=-0.8,
        remedy_effect=-0.5,
    )
    _, table = _table(tmp_path / "b", reversed_study)
    f1, f2, f3 = compute_findings(table.frame, settings)
    assert (f1.verdict, f2.verdict, f3.verdict) == (CONTRADICTS, CONTRADICTS, CONTRADICTS)


def test_four_objectives_are_too_few_for_an_across_objective_verdict(tmp_path):
    """With 2 objectives the permutation test has 2 relabellings: no p below 0.5, no MDE, never a verdict."""
    _, table = _table(tmp_path, SyntheticStudy(remedies=("none", "replay"), seeds=(0, 1, 2)))
    f1, f2, _ = compute_findings(table.frame, FAST)
    assert (f1.verdict, f2.verdict) == (INCONCLUSIVE, INCONCLUSIVE)
    assert f2.sign_test.slope.within.p.two_sided >= 0.5 and f2.sign_test.power.mde is None
    assert "no effect reaches 80% power with 2 objectives (smallest attainable p 1/2! = 0.5" in f2.sign_test.power.note


def test_findings_with_too_few_runs_are_inconclusive(tmp_path):
    _, table = _table(tmp_path, SyntheticStudy(models=("bert-tiny",)))  # 2 runs
    findings = compute_findings(table.frame, FAST)
    assert [f.verdict for f in findings] == [INCONCLUSIVE] * 3
    assert "no remedy besides" in findings[2].reason
    text = render_findings(findings, table.frame, FAST)
    assert "undefined" in text


def test_findings_as_dict_is_json(tmp_path):
    import json

    from fairforget.analysis.findings_record import findings_as_dict

    _, table = _table(
        tmp_path, SyntheticStudy(objectives=OBJECTIVES, remedies=("none", "replay"), sizes=("50", "full"), seeds=(0, 1))
    )
    record = findings_as_dict(compute_findings(table.frame, FAST))
    again = json.loads(json.dumps(record))
    assert [f["key"] for f in again] == ["F1", "F2", "F3"]
    assert again[1]["association"]["within"]["p"]["two_sided"] is not None
    assert {a["arm"] for a in again[2]["arms"]} == {"replay", "more data"}


def test_configured_primary_metric_and_deterministic_findings(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy(seeds=(0, 1)))
    settings = AnalysisSettings(permutations=199, primary_metrics={"sst2": "f1", "rte": "f1"})
    frame = build_run_table(
        paths.eval_paths, paths.downstream_paths, meta_paths=paths.meta_paths, settings=settings
    ).frame
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


def test_wnli_is_left_out_of_the_downstream_mean_and_reported_alone(tmp_path):
    study = SyntheticStudy(models=("bert-tiny",), tasks=("sst2", "rte", "wnli"))
    paths, table = _table(tmp_path, study)
    row = table.frame.row(0, named=True)
    assert row["downstream.mean_change"] == pytest.approx(
        fmean(row[f"downstream.{t}.accuracy.change"] for t in ("sst2", "rte"))
    )
    assert row["downstream.wnli.accuracy.change"] is not None
    assert any("left out of downstream.mean" in note for note in table.notes)
    from fairforget.analysis.findings import wnli_summary

    assert "downstream.wnli.accuracy.change" in wnli_summary(table.frame)[0]


def test_configured_column_that_is_missing_is_an_error(tmp_path):
    _, table = _table(tmp_path, SyntheticStudy(models=("bert-tiny",)))
    for key in ("overall_forgetting_metric", "selective_forgetting_metric", "bias_metric"):
        settings = AnalysisSettings(**{key: "overall_forgetting.no_such_statistic"})
        with pytest.raises(DataError, match=f"analysis.{key}.*overall_forgetting.no_such_statistic"):
            compute_findings(table.frame, settings) if key != "bias_metric" else __import__(
                "fairforget.analysis.columns", fromlist=["bias_column"]
            ).bias_column(table.frame, settings)


def test_configured_primary_metric_that_is_missing_is_an_error(tmp_path):
    paths = write_synthetic_study(tmp_path, SyntheticStudy(models=("bert-tiny",)))
    settings = AnalysisSettings(primary_metrics={"sst2": "mcc"})
    with pytest.raises(DataError, match="analysis.primary_metrics.sst2.*'mcc' not found.*accuracy"):
        build_run_table(paths.eval_paths, paths.downstream_paths, meta_paths=paths.meta_paths, settings=settings)


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
