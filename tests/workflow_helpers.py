"""Run the workflow in a throw-away copy of the repository, so tests never touch the user's results/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COPIED = ("Snakefile", "rules", "config", "workflow_scripts", "src", "resources", "envs", "report", "slurm_profile")


def copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif source.is_file():
            shutil.copy2(source, dest / name)
    return dest


def snakemake(
    workdir: Path,
    *args: str,
    timeout: int = 900,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout_command: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """Run the venv's snakemake in `workdir` (with `env` added to the environment; under `timeout_command`, e.g.
    `timeout -k 30 N`, where snakemake may outlive a kill of its parent); on failure, show the tail of its
    output."""
    command = [*timeout_command, str(Path(sys.executable).parent / "snakemake"), *args]
    env = {**os.environ, "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1", **(env or {})}
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


def slurm_cluster_answers() -> bool:
    """Whether a SLURM cluster answers `sinfo` here (the CI one: `.ci/slurm_ci.sh start`)."""
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def slurm_ci_env() -> dict[str, str]:
    """The environment `.ci/slurm_ci.sh` gives its own snakemake runs (SLURM_CONF, slurm_profile's partition,
    account, CPUs per fake GPU, ...: `.ci/slurm_ci.sh env`), plus the venv's bin on PATH (jobs call `python` and
    `accelerate` from PATH, as after activating the venv)."""
    out = subprocess.run(
        ["bash", str(REPO / ".ci" / "slurm_ci.sh"), "env"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    env = dict(item.split("=", 1) for item in out.split()[1:])  # "export A=1 B=2"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return env


def slurm_ci_profile(dest: Path) -> Path:
    """`.ci/slurm_ci.sh`'s overlay on slurm_profile (jobs, partition, account, short status checks, no retries)
    written to `dest`, for `snakemake --profile slurm_profile --profile dest`."""
    subprocess.run(["bash", str(REPO / ".ci" / "slurm_ci.sh"), "profile", str(dest)], check=True, timeout=60)
    return dest


def job_counts(output: str) -> dict[str, int]:
    """Rule -> job count from Snakemake's "Job stats" table in its output (empty when nothing is to be done)."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Job stats:"), None)
    if start is None:
        return counts
    for line in lines[start + 1 :]:
        parts = line.split()
        if not parts:
            if counts:
                break
            continue
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job", "count"):
            counts[parts[0]] = int(parts[1])
    return counts


def planned_jobs(workdir: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, int]:
    """Rule -> job count of a dry run (parsed from Snakemake's job stats table)."""
    result = snakemake(workdir, "-n", "--quiet", "rules", *args, env=env)
    return job_counts(result.stdout + result.stderr)


def validated_config(name: str) -> dict:
    """config/NAME as the Snakefile sees it: validated against the schema, which sets the defaults."""
    import yaml
    from snakemake.utils import validate

    from fairforget.config.schema import SCHEMA

    config = yaml.safe_load((REPO / "config" / name).read_text(encoding="utf-8"))
    validate(config, str(SCHEMA), set_default=True)
    return config
