"""Make the repo's `src/` importable in rule scripts, also inside a `--sdm conda` environment.

Snakemake puts this folder on sys.path for `script:` rules; `import _bootstrap` then adds ../src.
"""

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parent.parent / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
