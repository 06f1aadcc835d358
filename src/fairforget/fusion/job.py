"""The typed job of the `fuse` rule: one fused checkpoint, built by `fairforget.jobs.fuse_job` and passed to
`fusion.weights.fuse_into` untouched. Imported when the Snakefile is parsed: no heavy imports here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fairforget.job_json import JsonJob


@dataclass(frozen=True)
class FuseJob(JsonJob):
    """theta = (1 - alpha) theta_base + alpha theta_debiased into `out_dir` (+ `sidecar`); both parents are checked
    against their sidecars first. `run`: the run's identity plus `alpha`, recorded in the fused manifest."""

    base_dir: str
    base_sidecar: str
    debiased_dir: str
    debiased_sidecar: str
    alpha: float
    out_dir: str
    sidecar: str
    run: dict[str, Any]
    code: dict[str, Any] | None

    def settings(self) -> dict[str, Any]:
        """What the job computes with (no paths): a rule param, which Snakemake compares to plan reruns."""
        return {"alpha": self.alpha, "run": self.run, "code": self.code}
