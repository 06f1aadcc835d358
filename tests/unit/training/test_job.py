"""The typed jobs (fairforget.training.job): a JSON round trip, errors naming the missing key."""

from __future__ import annotations

import json

import pytest

from fairforget.config import run_grid
from fairforget.errors import ConfigError
from fairforget.jobs import base_model_job, finetune_job
from fairforget.paths import Run
from fairforget.training.job import BaseModelJob, FinetuneJob
from workflow_helpers import validated_config


@pytest.fixture(scope="module")
def micro() -> dict:
    return validated_config("micro.yaml")


def test_jobs_round_trip_through_json_and_name_missing_keys(micro: dict) -> None:
    job = finetune_job(micro, run_grid(micro)[0], "R", code={"fingerprint": "f"})
    assert FinetuneJob.from_json(job.to_json()) == job
    assert isinstance(FinetuneJob.from_json(job.to_json()).run, Run)
    base = base_model_job(micro, "bert-tiny", "R")
    assert BaseModelJob.from_json(base.to_json()) == base
    assert base.texts == ["R/data/general/pretrain.jsonl", "R/data/stereotype/planted.jsonl"]
    broken = json.loads(job.to_json())
    del broken["probe"]["pair_set"]
    with pytest.raises(ConfigError, match=r"FinetuneJob\.probe: missing key\(s\) \['pair_set'\]"):
        FinetuneJob.from_json(json.dumps(broken))
