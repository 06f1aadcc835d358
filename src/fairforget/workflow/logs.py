"""The one logging set-up of the rule scripts (workflow_scripts/*.py), with one log per attempt.

Snakemake deletes a job's log before each attempt, so a retried job (finetune's `retries`, the SLURM profile's
`retries: 2`) would lose what the failed attempt logged, e.g. "received SIGTERM ... state saved". With the
attempt number (the rules' `attempt` resource), every attempt also writes `<log stem>.attempt<N>.log` beside the
rule's log, which Snakemake does not know and so never deletes; attempt N starts the rule's log with the earlier
attempts' copies, each under a header. The copy of an attempt that ends without an uncaught exception is
removed again (its text is in the rule's log), so a job that never failed leaves one log as before.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from pathlib import Path
from types import TracebackType

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Read by fairforget.training.state, which records the attempt that saved a training state.
ATTEMPT_ENV = "FAIRFORGET_ATTEMPT"


def attempt_log(log_file: str | Path, attempt: int) -> Path:
    """`results/logs/finetune/RUN.log` -> `results/logs/finetune/RUN.attempt2.log`."""
    path = Path(log_file)
    return path.with_name(f"{path.stem}.attempt{attempt}{path.suffix or '.log'}")


def _earlier_attempts(log_file: Path, attempt: int) -> str:
    parts = []
    for earlier in range(1, attempt):
        copy = attempt_log(log_file, earlier)
        if copy.is_file():
            text = copy.read_text(encoding="utf-8", errors="replace")
            parts.append(f"===== attempt {earlier} (kept in {copy.name}) =====\n{text.rstrip()}\n")
    return "".join(parts)


def log_to(log_file: str | None, attempt: int | None = None) -> None:
    """Send INFO and above of every logger to the rule's log file (stderr when None), replacing any earlier
    set-up, so that a rule's log holds what the package logged for that job, and an uncaught exception with its
    traceback (Python prints it to stderr, which Snakemake does not put in the log: without this the log of a
    failed job lacks its error). With `attempt` (Snakemake's attempt, 1, 2, ...), also keep this attempt's own
    copy (module docstring)."""
    if log_file is None:
        logging.basicConfig(level=logging.INFO, force=True, format=FORMAT)
        return
    path = Path(log_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    if attempt is None:
        logging.basicConfig(filename=path, level=logging.INFO, force=True, format=FORMAT)
        _log_uncaught(None)
        return
    attempt = int(attempt)
    os.environ[ATTEMPT_ENV] = str(attempt)
    copy = attempt_log(log_file, attempt)
    with path.open("a", encoding="utf-8") as log:
        log.write(f"{_earlier_attempts(path, attempt)}===== attempt {attempt} =====\n")
    handlers: list[logging.Handler] = [logging.FileHandler(path), logging.FileHandler(copy, mode="w")]
    logging.basicConfig(level=logging.INFO, force=True, format=FORMAT, handlers=handlers)
    _log_uncaught(copy)


def _log_uncaught(copy: Path | None) -> None:
    """Log an uncaught exception (and still print it); remove the attempt's `copy` unless the job failed."""
    failed = []
    previous_hook = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, traceback: TracebackType | None) -> None:
        failed.append(True)
        logging.getLogger("fairforget").critical(
            "uncaught %s: %s", kind.__name__, value, exc_info=(kind, value, traceback)
        )
        previous_hook(kind, value, traceback)

    def cleanup() -> None:
        if not failed and copy is not None:
            logging.shutdown()
            copy.unlink(missing_ok=True)

    sys.excepthook = hook
    atexit.register(cleanup)
