"""benchmarks/bench_toy_study.py's comparison from Snakemake's benchmark files: per rule, with a rule whose jobs
another revision's evaluation jobs run (downstream_finetuned -> evaluate_checkpoint) summed into one row."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_toy_study", REPO / "benchmarks" / "bench_toy_study.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _job(study: Path, rule: str, job: str, wall: float, cpu: float) -> None:
    path = study / "results" / "benchmarks" / rule / f"{job}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{wall}\t0:00:01\t1\t1\t1\t1\t0\t0\t1\t{cpu}\n")


def test_split_rules_are_compared_with_the_rule_that_runs_them_now(tmp_path: Path, capsys) -> None:
    bench = _bench()
    before, after = tmp_path / "before", tmp_path / "after"
    for run in ("bert/a/seed0", "llama/b/seed0"):
        _job(before, "evaluate_checkpoint", run, 10.0, 6.0)
        _job(before, "downstream_finetuned", run, 12.0, 9.0)
        _job(after, "evaluate_checkpoint", run, 18.0, 12.0)
    _job(before, "finetune", "bert/a/seed0", 20.0, 15.0)
    _job(after, "finetune", "bert/a/seed0", 20.0, 16.5)

    rules = bench.read_benchmark_files(before / "results")
    assert rules["downstream_finetuned"].jobs == 2 and rules["downstream_finetuned"].cpu == pytest.approx(18.0)
    assert rules["evaluate_checkpoint"].wall == pytest.approx(20.0)

    bench.compare_benchmark_files(before, after)
    lines = {
        line.split("  ")[1].strip(): line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")
    }
    merged = lines["evaluate_checkpoint + downstream_finetuned"]
    assert "4 -> 2" in merged and "30.0 -> 24.0" in merged and merged.endswith("0.80")
    assert lines["finetune"].endswith("1.10")
    assert "5 -> 3" in lines["all jobs"] and "45.0 -> 40.5" in lines["all jobs"]


def test_a_complete_run_whose_evaluation_jobs_run_a_split_rule_is_not_a_partial_rerun() -> None:
    """The baseline's downstream_base jobs are run by the candidate's evaluate_base jobs (RUN_BY): a complete
    candidate is reported as such; a candidate without any evaluate_base record is a partial rerun that leaves
    downstream_base and evaluate_base to the baseline's records."""
    bench = _bench()

    def study(*rules: str):
        return bench.StudyRun("s", 1.0, 1.0, (0, 0, 0), (0, 0, 0), {rule: bench.RuleTotals(1, 1.0) for rule in rules})

    before = study("evaluate_base", "downstream_base", "finetune", "snakemake")
    assert bench.not_rerun(study("evaluate_base", "finetune", "snakemake"), before) == []
    assert bench.not_rerun(study("finetune"), before) == ["downstream_base", "evaluate_base"]
