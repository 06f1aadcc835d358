"""Make the repo's `src/` importable in rule scripts, also inside a `--sdm conda` environment, and make idle
OpenMP threads sleep instead of spinning.

`src/` goes FIRST on sys.path, also when it is already there further back: Snakemake's script preamble appends the
workflow's paths after the interpreter's own, which may hold an editable install of another checkout.
OMP_WAIT_POLICY=PASSIVE (unless the user set it): a spinning waiter in the 2-thread evaluation jobs cost several
times their CPU on a loaded machine, scores unchanged (benchmarks/README.md, issue 21). It must be set before
torch is imported, hence here, the first import of every rule script.
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
