#!/usr/bin/env bash
# Builds .venv-peers: lm-evaluation-harness (PyPI lm_eval 0.4.13) in its own virtual environment, for the
# conformance test tests/conformance/test_lm_eval_crows.py (docs/metrics.md §5.1). Kept apart from .venv because
# lm_eval pins its own dependencies. torch is pinned first (the CPU build, as tools/setup.sh does) so that pip
# does not pull a CUDA build. Idempotent: does nothing when .venv-peers already imports lm_eval.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${PEER_VENV:-.venv-peers}  # PEER_VENV: another folder (measuring a fresh install)
if [[ -x $venv/bin/python ]] && $venv/bin/python -c "import lm_eval, transformers" 2>/dev/null; then
  echo "peer venv: $venv already has lm_eval"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "torch==2.13.0"
"$venv/bin/python" -m pip install -q "lm_eval[hf]==0.4.13"
echo "peer venv: $venv ready ($("$venv/bin/python" -c 'import lm_eval, torch, transformers; print(lm_eval.__version__, torch.__version__, transformers.__version__)'))"
