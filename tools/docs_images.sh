#!/usr/bin/env bash
# Redraw the README's pictures of the toy study's results from results/ (run the toy study first:
# .venv/bin/snakemake --cores 2): docs/verdicts.png (the verdicts figure) and docs/report_first_page.png (the HTML
# report's first page in Debian's headless Chromium, `apt-get install chromium`).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
[[ -f results/figures/verdicts.png ]] || { echo "results/figures/verdicts.png missing: run the toy study first" >&2; exit 1; }
"$bin/snakemake" --report report.html
cp results/figures/verdicts.png docs/verdicts.png
"$bin/python" -m fairforget.browser report.html --screenshot docs/report_first_page.png
