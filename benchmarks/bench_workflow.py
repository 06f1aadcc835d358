"""Workflow overheads: planning the paper-scale DAG and a no-op rerun, against bare Snakemake start-up.

Baseline (measured in the same run): `snakemake -n` of a one-rule Snakefile, i.e. what any Snakemake
invocation costs on this machine. Reported: the paper grid's job count, the wall time of `snakemake -n` on
config/paper.yaml, and (with --finished DIR, a copy of the repo where the toy study has run) the wall time of a
no-op `snakemake -n` there; each with its ratio to the baseline. Targets: under 15 s each on 2 cores.

The stage-by-stage wall time and peak memory of a finished run come from the benchmark files every rule writes
(`results/benchmarks/<rule>/...tsv`): `--finished DIR` also prints their sum per rule.

    python benchmarks/bench_workflow.py [--finished /path/to/finished/copy] [--repeats 2]
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def timed(args: list[str], cwd: Path, repeats: int) -> tuple[float, str]:
    """Best wall time of `repeats` runs and the last run's output."""
    best, output = float("inf"), ""
    for _ in range(repeats):
        start = time.perf_counter()
        result = subprocess.run([SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise SystemExit(f"snakemake {' '.join(args)} failed in {cwd}:\n{output[-3000:]}")
    return best, output


def baseline(repeats: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "Snakefile").write_text('rule all:\n    output: "x"\n    shell: "touch {output}"\n')
        seconds, _ = timed(["-n", "--quiet", "rules"], Path(tmp), repeats)
    return seconds


def job_count(output: str) -> int:
    match = re.search(r"^total\s+(\d+)", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


def stage_table(results: Path) -> dict[str, tuple[int, float, float]]:
    """rule -> (jobs, summed wall seconds, max peak RSS MB) from Snakemake's benchmark files."""
    table: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for tsv in (results / "benchmarks").rglob("*.tsv"):
        rule = tsv.relative_to(results / "benchmarks").parts[0]
        with open(tsv) as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        for row in rows[-1:]:
            entry = table[rule]
            entry[0] += 1
            entry[1] += float(row["s"])
            rss = row.get("max_rss", "NA")
            entry[2] = max(entry[2], float(rss) if rss not in ("NA", "-") else 0.0)
    return {rule: (int(n), s, rss) for rule, (n, s, rss) in table.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--finished", type=Path, help="a repo copy where `snakemake --cores 2` has finished")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    base = baseline(args.repeats)
    print(f"baseline: bare `snakemake -n` of a one-rule workflow: {base:.2f} s")
    paper, output = timed(["-n", "--quiet", "rules", "--configfile", "config/paper.yaml"], REPO, args.repeats)
    print(f"paper grid `snakemake -n`: {job_count(output)} jobs in {paper:.2f} s "
          f"(ratio to baseline {paper / base:.1f}x; target < 15 s)")
    if args.finished:
        noop, output = timed(["-n", "--quiet", "rules"], args.finished, args.repeats)
        print(f"no-op rerun of the finished study: {job_count(output)} jobs planned in {noop:.2f} s "
              f"(ratio to baseline {noop / base:.1f}x; target < 15 s)")
        print("\nstage-by-stage (from the rules' benchmark files):")
        print(f"{'rule':<22}{'jobs':>6}{'wall s':>10}{'peak RSS MB':>13}")
        total = 0.0
        for rule, (n, seconds, rss) in sorted(stage_table(args.finished / "results").items(), key=lambda x: -x[1][1]):
            total += seconds
            print(f"{rule:<22}{n:>6}{seconds:>10.1f}{rss:>13.0f}")
        print(f"{'sum of job wall times':<28}{total:>10.1f}")


if __name__ == "__main__":
    main()
