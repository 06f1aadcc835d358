"""Make the repo's `src/` importable in rule scripts, also inside a `--sdm conda` environment.

Snakemake puts this folder on sys.path for `script:` rules; `import _bootstrap` then puts ../src FIRST on sys.path,
also when it is already there further back: Snakemake's script preamble appends the workflow's paths after the
job interpreter's own, which include any editable install of fairforget, possibly of another checkout (whose
code would otherwise run the job).
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if sys.path[:1] != [_SRC]:
    while _SRC in sys.path:
        sys.path.remove(_SRC)
    sys.path.insert(0, _SRC)
