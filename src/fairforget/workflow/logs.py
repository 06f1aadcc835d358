"""The one logging set-up of the rule scripts (workflow_scripts/*.py), with one log per attempt.

Snakemake deletes a job's log before each attempt, so a retried job (finetune's `retries`, the SLURM profile's
`retries: 2`) would lose what the failed attempt logged, e.g. "received SIGTERM ... state saved". With the
attempt number (the rules' `attempt` resource), every attempt also writes `<log stem>.attempt<N>.log` beside the
rule's log, which Snakemake does not know and so never deletes; attempt N starts the rule's log with the earlier
attempts' copies, each under a header. The copy of an attempt that ends without an uncaught exception is
removed again (its text is in the rule's log), so a job that never failed leaves one log as before.

Every rule script's uncaught exception is logged with its traceback. One that a retry would meet again (a config,
data or model error, a plug-in's bug, a full disk: `is_transient` says which are not) also leaves
`<log>.deterministic`, by which the planning Snakemake process does not retry the job
(`no_retry_after_deterministic_failure`); preemption, running out of memory, a killed process and I/O hiccups are
retried as before.
"""

from __future__ import annotations

import atexit
import errno
import logging
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from fairforget.io import inject_fault

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Read by fairforget.training.state, which records the attempt that saved a training state.
ATTEMPT_ENV = "FAIRFORGET_ATTEMPT"
# OS errors a retry may not meet again (a network filesystem's hiccup); ENOSPC/EDQUOT (a full disk) are not
TRANSIENT_ERRNOS = frozenset(
    {errno.EIO, errno.ESTALE, errno.ETIMEDOUT, errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ECONNRESET}
    | {errno.ENETDOWN, errno.ENETUNREACH, errno.EHOSTUNREACH}
)
# exceptions by class name (no torch import here): SIGTERM/preemption (the engine saved its state), GPU memory
TRANSIENT_NAMES = frozenset({"TrainingPreempted", "OutOfMemoryError", "MemoryError", "KeyboardInterrupt"})


def is_transient(error: BaseException) -> bool:
    """Whether a retry of the job may succeed: the error, or one it was raised from, is preemption, out of
    memory or a transient OS error. Everything else (bad config, data, model, plug-in code, a full disk) fails the
    same way again."""
    seen: BaseException | None = error
    while seen is not None:
        if type(seen).__name__ in TRANSIENT_NAMES or "out of memory" in str(seen).lower():
            return True
        if isinstance(seen, OSError) and seen.errno in TRANSIENT_ERRNOS:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def deterministic_marker(log_file: str | Path) -> Path:
    """`<log>.deterministic`: written when the job failed in a way a retry would repeat (module docstring)."""
    return Path(f"{log_file}.deterministic")


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
    deterministic_marker(path).unlink(missing_ok=True)
    if attempt is None:
        logging.basicConfig(filename=path, level=logging.INFO, force=True, format=FORMAT)
        _log_uncaught(path, None)
        inject_fault(path)  # test-only (fairforget.io): every rule script failing as it starts
        return
    attempt = int(attempt)
    os.environ[ATTEMPT_ENV] = str(attempt)
    copy = attempt_log(log_file, attempt)
    with path.open("a", encoding="utf-8") as log:
        log.write(f"{_earlier_attempts(path, attempt)}===== attempt {attempt} =====\n")
    handlers: list[logging.Handler] = [logging.FileHandler(path), logging.FileHandler(copy, mode="w")]
    logging.basicConfig(level=logging.INFO, force=True, format=FORMAT, handlers=handlers)
    _log_uncaught(path, copy)
    inject_fault(path)


def _log_uncaught(log_file: Path, copy: Path | None) -> None:
    """Log an uncaught exception (and still print it), mark a deterministic one (module docstring); remove the
    attempt's `copy` unless the job failed."""
    failed = []
    previous_hook = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, traceback: TracebackType | None) -> None:
        failed.append(True)
        logger = logging.getLogger("fairforget")
        logger.critical("uncaught %s: %s", kind.__name__, value, exc_info=(kind, value, traceback))
        if not is_transient(value):
            logger.critical("a retry would fail the same way (%s): the job is not retried", kind.__name__)
            deterministic_marker(log_file).write_text(f"{kind.__name__}: {value}\n", encoding="utf-8")
        previous_hook(kind, value, traceback)

    def cleanup() -> None:
        if not failed and copy is not None:
            logging.shutdown()
            copy.unlink(missing_ok=True)

    sys.excepthook = hook
    atexit.register(cleanup)


def no_retry_after_deterministic_failure(job_class: Any, report: Any) -> None:
    """Make Snakemake's job class (snakemake.jobs.Job, in the planning process) give no restarts to a job whose
    script left `<log>.deterministic`: Snakemake's `retries` cannot tell a preempted job from a broken config."""
    original = job_class.restart_times
    reported: set[str] = set()

    def restart_times(job: Any) -> int:
        for log_file in job.log:
            marker = deterministic_marker(str(log_file))
            if marker.is_file():
                if str(log_file) not in reported:
                    reported.add(str(log_file))
                    cause = marker.read_text(encoding="utf-8", errors="replace").strip()
                    report(f"fairforget: {job.rule.name} is not retried: {cause} would fail again (see {log_file})")
                return 0
        return original.fget(job)

    job_class.restart_times = property(restart_times)
