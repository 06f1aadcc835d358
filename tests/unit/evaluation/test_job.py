"""The evaluation job (fairforget.evaluation.job) as fairforget.jobs.evaluation_job builds it: a base model's, a
run's checkpoint's and a fused checkpoint's files from the templates, and a JSON round trip."""

from __future__ import annotations

import pytest

from fairforget.config import run_grid
from fairforget.evaluation.job import EvaluationJob
from fairforget.jobs import evaluation_job
from workflow_helpers import validated_config

INPUTS = {"heldout": "R/h.jsonl", "probes": {"planted": "R/p.jsonl"}, "seat_dir": None, "needs_trajectory": True}


@pytest.fixture(scope="module")
def micro() -> dict:
    return validated_config("micro.yaml")


def test_a_base_models_evaluation_has_no_base_and_no_run(micro: dict) -> None:
    job = evaluation_job(micro, "R", model="bert-tiny", inputs=INPUTS)
    assert (job.model_dir, job.sidecar) == ("R/models/base/bert-tiny", "R/models/base/bert-tiny.sha256")
    assert job.metrics_json == "R/eval/base/bert-tiny/metrics.json" and job.scores_dir == "R/eval/base/bert-tiny/scores"
    assert job.base_scores_dir is None and job.run is None and job.trajectory is None
    assert EvaluationJob.from_json(job.to_json()) == job


def test_a_checkpoint_is_evaluated_against_its_base_and_a_fused_one_without_trajectory(micro: dict) -> None:
    run = run_grid(micro)[0]
    job = evaluation_job(micro, "R", model=run.model, inputs=INPUTS, run=run, code={"id": "c"})
    assert (
        job.model_dir == f"R/models/finetuned/{run.path}" and job.base_scores_dir == f"R/eval/base/{run.model}/scores"
    )
    assert job.trajectory == f"R/training/{run.path}/trajectory.parquet" and job.run == run.wildcards()
    fused = evaluation_job(micro, "R", model=run.model, inputs=INPUTS, run=run, alpha="0.5", evaluation={"x": 1})
    assert fused.model_dir == f"R/fusion/alpha0.5/models/finetuned/{run.path}" and fused.trajectory is None
    assert fused.run == {**run.wildcards(), "alpha": 0.5} and fused.evaluation == {"x": 1}
    assert fused.base_model_dir == job.base_model_dir
    # the compared settings hold no path
    assert job.settings() == {
        "evaluation": micro["evaluation"],
        "store_dir": micro["store_dir"],
        "run": job.run,
        "code": {"id": "c"},
    }
    assert EvaluationJob.from_json(fused.to_json()) == fused
