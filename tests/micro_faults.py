"""What the fault tests on the micro study share (tests/faults/test_rebuild.py, tests/faults/test_interrupt.py):
the run they damage, its files, and Snakemake killed at an exact point of a write (the test-only hook of
`fairforget.io`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fairforget.io import FAULT_ENV, FAULT_ONCE_ENV
from workflow_helpers import job_counts, snakemake

CONFIG = ("--configfile", "config/micro.yaml")
# The run the tests damage: one the micro study does not fuse (the fewest dependants), and of the masked model's runs
# the cheaper to fine-tune (objective `none` trains on the debiasing corpus as it is, `cda` on its counterfactual
# copies too), since the tests fine-tune it again about 8 times (benchmarks/README.md, issue 30's sixth session).
# OTHER_RUN: another checkpoint of the same model.
RUN = "bert-tiny/none/none/full/seed0"
OTHER_RUN = "bert-tiny/cda/none/full/seed0"
MODEL_DIR = f"results/models/finetuned/{RUN}"
SIDECAR = f"{MODEL_DIR}.sha256"
METRICS = f"results/eval/finetuned/{RUN}/metrics.json"
FINETUNE_LOG = f"results/logs/finetune/{RUN}.log"
REBUILD_LINE = f"fairforget: finetune {RUN} will run again: "
# what rebuilding one fine-tuned checkpoint of the micro study reruns (its evaluation job runs its downstream
# tasks too: a CPU study)
CHECKPOINT_AND_DEPENDANTS = {"finetune", "evaluate_checkpoint"}
UPSTREAM = {"prepare_general", "prepare_planted", "prepare_debias", "prepare_probes", "build_base_model"}


def plan(workdir: Path, *args: str) -> tuple[dict[str, int], str]:
    """Rule -> job count of a dry run, and what it printed (the `fairforget: ... will run again` lines). The
    config is micro's unless `args` name another."""
    config = () if "--configfile" in args else CONFIG
    result = snakemake(workdir, "-n", *args, *config)
    return job_counts(result.stdout + result.stderr), result.stdout + result.stderr


def temp_files(folder: Path) -> list[Path]:
    """The hidden temporary files of interrupted atomic writes (`fairforget.io.atomic_write_chunks`)."""
    return sorted(folder.rglob(".*.tmp"))


def _live_session_pids(sid: int) -> list[int]:
    """Processes of session `sid` that are not zombies (a killed process whose parent died too stays a zombie
    until init reaps it; it is dead already)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if os.getsid(int(entry.name)) == sid and state != "Z":
                    pids.append(int(entry.name))
            except (OSError, IndexError):  # gone meanwhile
                pass
    return pids


def kill_session(process: subprocess.Popen) -> None:
    """SIGKILL `process` (started with `start_new_session`) and every process of its session at once, as a node
    failure or `kill -9` of the whole run would."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    deadline = time.monotonic() + 30
    while (alive := _live_session_pids(process.pid)) and time.monotonic() < deadline:
        for pid in alive:  # a job in another process group would escape killpg
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    assert _live_session_pids(process.pid) == [], "processes of the killed run survived"


def snakemake_killed_at_fault(workdir: Path, glob: str, *args: str, timeout: float = 600) -> str:
    """Start snakemake in its own session; when the hook has frozen the job at the fault point (the atomic write of
    a file matching `glob`), SIGKILL snakemake and every process of its session. Returns what snakemake printed."""
    fuse = workdir.parent / "fault.fuse"
    fuse.touch()
    env = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "TQDM_DISABLE": "1",
        FAULT_ENV: f"stop:{glob}",
        FAULT_ONCE_ENV: str(fuse),
    }
    log = workdir.parent / "fault.killed_run.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "snakemake"), *args],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while fuse.exists():
                assert process.poll() is None, f"snakemake ended before the fault fired:\n{log.read_text()[-4000:]}"
                assert time.monotonic() < deadline, "the fault never fired"
                time.sleep(0.1)
        finally:
            kill_session(process)
    return log.read_text()
