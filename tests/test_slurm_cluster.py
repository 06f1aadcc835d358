"""Jobs really go through SLURM with slurm_profile: a trivial workflow with the project's rule names is submitted
to a running cluster, and `sacct` must list every job COMPLETED, with a GPU for `finetune`, in both GPU-request
styles.  Needs a cluster (`sudo .ci/slurm_ci.sh start` gives a single-node one) and FAIRFORGET_SLURM=1."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.slurm


def _cluster_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


if os.environ.get("FAIRFORGET_SLURM") != "1" or not _cluster_answers():
    pytest.skip("needs FAIRFORGET_SLURM=1 and a SLURM cluster that answers `sinfo`", allow_module_level=True)


# one request style here; the micro workflow test below submits in the other (--gpus)
@pytest.mark.parametrize("gpu_flag", ["gres"])
def test_profile_jobs_run_as_slurm_jobs(repo_root, gpu_flag):
    env = {**os.environ, "FAIRFORGET_SLURM_GPU_FLAG": gpu_flag}
    proc = subprocess.run(
        ["bash", str(repo_root / ".ci" / "slurm_ci.sh"), "selftest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # the script's own verdict lines: sacct counted the jobs and found the GPU on finetune
    assert "selftest OK" in out
    assert "gres/gpu=1" in out, out[-4000:]
    assert "rule_finetune_wildcards_" in out


@pytest.mark.slow
def test_micro_workflow_through_slurm_matches_local_run(repo_root):
    """The real workflow (config/micro.yaml + config/slurm_ci.yaml) through slurm_profile: every job COMPLETED in
    sacct, finetune on a (fake) GPU, and the base and fine-tuned checkpoints bit-identical to a local run."""
    proc = subprocess.run(
        ["bash", str(repo_root / ".ci" / "slurm_ci.sh"), "workflow"],
        # correctness here, not speed: the 2-core CI budget is the business of `.ci/slurm_ci.sh all`
        env={**os.environ, "FAIRFORGET_SLURM_GPU_FLAG": "gpus", "FAIRFORGET_SLURM_RUN_TIMEOUT": "1200"},
        capture_output=True,
        text=True,
        timeout=3000,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "checkpoint hashes identical (SLURM vs local)" in out
    assert "rule_finetune_wildcards_" in out and "gres/gpu=1" in out
