"""Start-up probe for benchmarks/bench_workflow.py: put this folder on PYTHONPATH and set
FAIRFORGET_STARTUP_PROBE=DIR, and every Python process that starts (each Snakemake job) writes one JSON line to
DIR/<pid>.json when it exits:

- `rule`: the Snakemake rule (a `script:` job's `snakemake.rule`) or the script's file name (a `shell:` job);
- `cpu_start`: CPU seconds (user + system) the process had used when this file ran, i.e. the interpreter's own
  start-up;
- `cpu_imports`: CPU seconds spent inside outermost `import` statements (module-level and lazy ones alike, so
  a heavy module a job imports but never uses counts here);
- `cpu_total`: CPU seconds of the whole process (all threads), as Snakemake's benchmark `cpu_time` counts it;
- `wall_total`: seconds from this file running to the exit;
- `packages`: the top-level packages imported by the exit (which heavy ones a job loaded);
- `output`: a `script:` job's first output file (which job it was).

The fixed start-up of a job is `cpu_start + cpu_imports`: work every job pays before and besides its own compute.
CPU time rather than wall time, because the bench machine may be shared (other load inflates wall time much more
than CPU time). The probe only times; it changes nothing a job computes.
"""

from __future__ import annotations

import atexit
import builtins
import json
import os
import sys
import time

_DIR = os.environ.get("FAIRFORGET_STARTUP_PROBE")

if _DIR:
    _cpu_start = time.process_time()
    _wall_start = time.perf_counter()
    _original_import = builtins.__import__
    _state = {"depth": 0, "imports": 0.0}

    def _timed_import(*args, **kwargs):  # type: ignore[no-untyped-def]
        if _state["depth"]:
            return _original_import(*args, **kwargs)
        _state["depth"] = 1
        began = time.process_time()
        try:
            return _original_import(*args, **kwargs)
        finally:
            _state["imports"] += time.process_time() - began
            _state["depth"] = 0

    builtins.__import__ = _timed_import

    def _rule() -> str:
        job = getattr(sys.modules.get("__main__"), "snakemake", None)
        rule = getattr(job, "rule", None)
        if isinstance(rule, str):
            return rule
        return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"

    def _output() -> str:
        job = getattr(sys.modules.get("__main__"), "snakemake", None)
        try:
            return str(job.output[0]) if job is not None and len(job.output) else ""
        except (AttributeError, TypeError, IndexError):
            return ""

    def _write() -> None:
        record = {
            "rule": _rule(),
            "argv0": sys.argv[0] if sys.argv else "",
            "cpu_start": _cpu_start,
            "cpu_imports": _state["imports"],
            "cpu_total": time.process_time(),
            "wall_total": time.perf_counter() - _wall_start,
            "output": _output(),
            "packages": sorted({name.split(".")[0] for name in list(sys.modules) if not name.startswith("_")}),
        }
        try:
            with open(os.path.join(_DIR, f"{os.getpid()}.json"), "w") as handle:
                json.dump(record, handle)
        except OSError:
            pass

    atexit.register(_write)
