"""The downstream job (fairforget.downstream.job) as fairforget.jobs.downstream_job builds it: task-major outputs,
one task folder per task, and a job whose outputs do not match its tasks and seeds refused."""

from __future__ import annotations

import dataclasses

import pytest

from fairforget.config import run_grid
from fairforget.downstream.job import DownstreamJob
from fairforget.errors import ConfigError
from fairforget.jobs import downstream_job
from workflow_helpers import validated_config


@pytest.fixture(scope="module")
def micro() -> dict:
    config = validated_config("micro.yaml")
    return {**config, "downstream": {**config["downstream"], "seeds": [0, 1]}}


def test_outputs_are_task_major_and_split_per_task(micro: dict) -> None:
    run = run_grid(micro)[0]
    job = downstream_job(micro, "R", model=run.model, tasks=["sst2", "rte"], run=run)
    assert job.task_dirs == ["R/data/downstream/sst2", "R/data/downstream/rte"]
    assert job.task_outputs(1) == [
        f"R/downstream/finetuned/{run.path}/rte/seed0.json",
        f"R/downstream/finetuned/{run.path}/rte/seed1.json",
    ]
    assert job.base_sidecar == f"R/models/base/{run.model}.sha256" and job.run == run.wildcards()
    assert DownstreamJob.from_json(job.to_json()) == job
    base = downstream_job(micro, "R", model=run.model, tasks=["sst2"])
    assert base.base_sidecar is None and base.run is None
    assert base.outputs == [
        f"R/downstream/base/{run.model}/sst2/seed0.json",
        f"R/downstream/base/{run.model}/sst2/seed1.json",
    ]


def test_a_job_with_too_few_outputs_is_refused(micro: dict) -> None:
    job = downstream_job(micro, "R", model="bert-tiny", tasks=["sst2"])
    with pytest.raises(ConfigError, match=r"1 task\(s\) x 2 seed\(s\) has 1 task folders and 1 outputs"):
        dataclasses.replace(job, outputs=job.outputs[:1])
