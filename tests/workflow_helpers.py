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
    workdir: Path, *args: str, timeout: int = 900, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the venv's snakemake in `workdir` (with `env` added to the environment); on failure, show the tail of
    its output."""
    command = [str(Path(sys.executable).parent / "snakemake"), *args]
    env = {**os.environ, "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1", **(env or {})}
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


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
