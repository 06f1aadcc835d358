"""The fuse job (fairforget.fusion.job) as fairforget.jobs.fuse_job builds it: the parents' and the fused
checkpoint's files from the templates, the weight as a number in the recorded run."""

from __future__ import annotations

from fairforget.fusion.job import FuseJob
from fairforget.jobs import fuse_job
from fairforget.paths import Run


def test_a_fuse_job_names_both_parents_and_records_its_weight() -> None:
    run = Run("m", "cda", "none", "full", 0)
    job = fuse_job(run, "0.25", "R", code={"id": "c"})
    assert (job.base_dir, job.base_sidecar) == ("R/models/base/m", "R/models/base/m.sha256")
    assert job.debiased_sidecar == f"R/models/finetuned/{run.path}.sha256"
    assert job.out_dir == f"R/fusion/alpha0.25/models/finetuned/{run.path}"
    assert job.alpha == 0.25 and job.run == {**run.wildcards(), "alpha": 0.25}
    assert job.settings() == {"alpha": 0.25, "run": job.run, "code": {"id": "c"}}
    assert FuseJob.from_json(job.to_json()) == job
