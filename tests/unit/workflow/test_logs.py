"""One log per attempt (fairforget.workflow.logs): what a failed attempt logged survives Snakemake's retry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import logging, sys
from fairforget.workflow.logs import log_to
log_to(sys.argv[1], attempt=int(sys.argv[2]))
logging.getLogger("fairforget.test").info("attempt %s working", sys.argv[2])
if sys.argv[3] == "fail":
    raise RuntimeError("received SIGTERM: state saved at step 7")
"""


def _attempt(log: Path, attempt: int, outcome: str) -> subprocess.CompletedProcess:
    # Snakemake deletes the rule's log before every attempt
    log.unlink(missing_ok=True)
    return subprocess.run([sys.executable, "-c", SCRIPT, str(log), str(attempt), outcome], capture_output=True)


def test_a_retried_job_keeps_the_failed_attempts_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "finetune" / "run.log"
    assert _attempt(log, 1, "fail").returncode != 0
    kept = tmp_path / "logs" / "finetune" / "run.attempt1.log"
    assert "received SIGTERM: state saved at step 7" in kept.read_text()
    assert _attempt(log, 2, "ok").returncode == 0
    text = log.read_text()
    assert text.index("===== attempt 1 (kept in run.attempt1.log) =====") < text.index("state saved at step 7")
    assert text.index("state saved at step 7") < text.index("===== attempt 2 =====") < text.index("attempt 2 working")
    # the successful attempt's copy is dropped (its text is in the rule's log); the failed one's stays
    assert kept.is_file() and not (tmp_path / "logs" / "finetune" / "run.attempt2.log").exists()


def test_a_job_that_never_fails_leaves_one_log(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    assert _attempt(log, 1, "ok").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.log"]
    assert "attempt 1 working" in log.read_text()
