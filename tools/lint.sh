#!/usr/bin/env bash
# The linters and the type check CI runs before the tests (.ci/run); also `bash tools/lint.sh` by hand.
# Runs every check, prints what failed, exits non-zero if any did. `--fix` applies ruff's and snakefmt's fixes.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
# the `lint` extra (pinned in constraints.txt): tools/setup.sh leaves it out, the quickstart does not use it
if [[ ! -x $bin/ruff || ! -x $bin/snakefmt || ! -x $bin/mypy || ! -x $bin/codespell ]]; then
  echo "--- installing the linters (pip install -e .[lint])"
  "$bin/python" -m pip install -q -c constraints.txt -e ".[lint]" || exit 1
fi
if [[ "${1:-}" == "--fix" ]]; then
  "$bin/ruff" check --fix . && "$bin/ruff" format . && "$bin/snakefmt" Snakefile rules
  exit
fi
failed=()
check() {
  local name=$1; shift
  echo "--- $name: $*"
  "$@" || failed+=("$name")
}
check "ruff check" "$bin/ruff" check .
check "ruff format" "$bin/ruff" format --check .
check "snakefmt" "$bin/snakefmt" --check Snakefile rules
check "snakemake --lint" "$bin/snakemake" --lint --configfile config/config.yaml
check "mypy (src/)" "$bin/mypy"
check "codespell" "$bin/codespell"
if ((${#failed[@]})); then
  echo "lint FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "lint OK"
