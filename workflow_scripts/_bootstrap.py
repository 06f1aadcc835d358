"""Make the repo's `src/` importable in rule scripts, also inside a `--sdm conda` environment, and make idle
OpenMP threads sleep instead of spinning.

Snakemake puts this folder on sys.path for `script:` rules; `import _bootstrap` then puts ../src FIRST on sys.path,
also when it is already there further back: Snakemake's script preamble appends the workflow's paths after the
job interpreter's own, which include any editable install of fairforget, possibly of another checkout (whose
code would otherwise run the job).

OMP_WAIT_POLICY=PASSIVE (unless the user set it): by default torch's OpenMP runtime (libgomp) lets a waiting
thread spin before it sleeps. A 2-thread evaluation job of a tiny model runs thousands of tiny parallel regions;
whenever its other thread is off the CPU (other jobs, other users) the waiting one spins: on the 2-core machine
under load (average 10-12) an evaluate_checkpoint took 161 s CPU / 441 s wall by default against 13.8 s / 23.5 s
passive, with bit-identical scores (the policy changes how threads wait, not how the work is split;
benchmarks/bench_eval_threads.py, issue 21). It must be set before torch is imported (libgomp reads it when it
loads), hence here, the first import of every rule script.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if sys.path[:1] != [_SRC]:
    while _SRC in sys.path:
        sys.path.remove(_SRC)
    sys.path.insert(0, _SRC)
