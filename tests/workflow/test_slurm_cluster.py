"""Jobs really go through SLURM with slurm_profile: a trivial workflow with the project's rule names is submitted
to a running cluster, and `sacct` must list every job COMPLETED, with a GPU for `finetune`, in both GPU-request
styles.  Needs a cluster (`sudo .ci/slurm_ci.sh start` gives a single-node one) and FAIRFORGET_SLURM=1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_helpers import slurm_cluster_answers

pytestmark = pytest.mark.slurm


if os.environ.get("FAIRFORGET_SLURM") != "1" or not slurm_cluster_answers():
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
    sacct, finetune on a (fake) GPU; then the documented recovery (rerun the same command) after findings.md and
    one checkpoint were deleted, with Ctrl-C of the driver while that checkpoint's finetune job runs and `scancel`
    of the rerun's finetune job; the base and fine-tuned checkpoints bit-identical to a local run."""
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
    # the documented recovery: Ctrl-C while a finetune job ran, then the same command, whose running finetune job
    # is cancelled with scancel and retried; the run rebuilds what was deleted, to the local run's hashes (above)
    assert "Ctrl-C stopped snakemake" in out and "recovery OK" in out, out[-4000:]
    assert "rule_finetune_wildcards_" in out and "gres/gpu=1" in out


def _node_cpus() -> int:
    from fairforget.workflow.slurm.cluster import cluster

    return max(node.cpus for node in cluster().nodes)


def _queued(workdir) -> list[str]:
    out = subprocess.run(["squeue", "--me", "-h", "-o", "%i|%Z"], capture_output=True, text=True, timeout=60).stdout
    return [line for line in out.splitlines() if line.endswith(f"|{workdir}")]


def test_a_group_job_larger_than_any_node_stops_the_run_before_submitting(tmp_path):
    """The issue's hang: the bundled data preparation asked for more CPUs than the node has and stayed pending
    forever. The pre-flight check stops the run at once, naming the group, its request and the node's size."""
    import time

    from workflow_helpers import copy_workflow

    workdir = copy_workflow(tmp_path / "wf")
    cpus = _node_cpus()
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
        "FAIRFORGET_SLURM_GROUP_CPUS": str(cpus + 2),
        "FAIRFORGET_SLURM_GPU_FLAG": "gres",
    }
    started = time.monotonic()
    command = ["timeout", "-k", "10", "300", str(venv_bin / "snakemake"), "--profile", "slurm_profile"]
    proc = subprocess.run(
        [*command, "--configfile", "config/micro.yaml"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=330,
    )
    elapsed = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 124, 137), out[-3000:]
    assert elapsed < 240, elapsed
    assert "nothing was submitted" in out and "group job prep" in out, out[-3000:]
    assert f"asks for {cpus + 2} CPUs" in out and f"({cpus} CPUs," in out, out[-3000:]
    assert _queued(workdir) == []


def test_a_job_pending_for_a_reason_that_never_clears_is_reported_and_cancelled(tmp_path):
    from fairforget.workflow.slurm.watch import PendingWatch

    cpus = _node_cpus()
    submitted = subprocess.run(
        ["sbatch", "--parsable", "-c", str(cpus + 2), "--comment", "rule_test", "--wrap", "sleep 1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if submitted.returncode != 0:
        pytest.skip(f"this cluster refuses the request at submission: {submitted.stderr.strip()}")
    job_id = submitted.stdout.strip().split(";")[0]
    reports: list[str] = []
    watch = PendingWatch(workdir=str(tmp_path), report=reports.append, grace_s=0)
    try:
        for _ in range(30):  # the scheduler gives the reason within a few seconds
            if watch.poll():
                break
            import time

            time.sleep(1)
    finally:
        subprocess.run(["scancel", job_id], capture_output=True, timeout=60)
    assert len(reports) == 1 and f"SLURM job {job_id} (rule_test)" in reports[0], reports
    assert "PartitionConfig" in reports[0] and "cancelled" in reports[0]
    assert _queued(tmp_path) == []


def test_a_submitted_job_that_never_starts_ends_the_run_with_its_reason(tmp_path):
    """With the pre-flight check off, the same oversized group job is submitted and pends (PartitionConfig): the
    watch reports and cancels it, and Snakemake sees the cancelled job fail, so the run ends, nothing queued."""
    import time

    from workflow_helpers import copy_workflow

    workdir = copy_workflow(tmp_path / "wf")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "config.yaml").write_text("retries: 0\nslurm-init-seconds-before-status-checks: 2\n")
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
        "FAIRFORGET_SLURM_PREFLIGHT": "0",
        "FAIRFORGET_SLURM_GROUP_CPUS": str(_node_cpus() + 2),
        "FAIRFORGET_SLURM_PENDING_POLL_S": "5",
        "FAIRFORGET_SLURM_PENDING_GRACE_S": "10",
    }
    started = time.monotonic()
    command = ["timeout", "-k", "10", "400", str(venv_bin / "snakemake"), "--profile", "slurm_profile"]
    proc = subprocess.run(
        [*command, "--profile", str(overlay), "--configfile", "config/micro.yaml"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=430,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 124, 137), out[-3000:]
    assert time.monotonic() - started < 300
    assert "is pending with reason PartitionConfig, which does not clear by itself" in out, out[-3000:]
    assert "Error in group prep" in out
    assert _queued(workdir) == []
