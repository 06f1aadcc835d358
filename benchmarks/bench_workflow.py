"""Workflow overheads: planning the paper-scale DAG and a no-op rerun, against bare Snakemake start-up.

Baseline (measured in the same run): `snakemake -n` of a one-rule Snakefile, i.e. what any Snakemake
invocation costs on this machine. Reported: the paper grid's job count, the wall and CPU time of `snakemake -n`
on config/paper.yaml, and (with --finished DIR, a copy of the repo where a study has run; --finished-config
names its config) the wall and CPU time of a no-op `snakemake -n` there; each with its ratio to the baseline.
Targets: under 15 s each on 2 cores. The first paper dry run of a session fills the parse-time cache
(.snakemake/fairforget/, fairforget.workflow.parse_cache.ParseCache) and is reported on its own ("cold"); the best of
--repeats later runs is "warm".

The stage-by-stage wall time and peak memory of a finished run come from the benchmark files every rule writes
(`results/benchmarks/<rule>/...tsv`): `--finished DIR` also prints their sum per rule.

    python benchmarks/bench_workflow.py [--finished /path/to/finished/copy] [--finished-config config/micro.yaml]
                                        [--repeats 2]

Figures of 2026-11-28 (2 shared cores, other helpers' CPU-heavy work running; load average in brackets):
    before (9,227 jobs: one downstream job per checkpoint x task x seed; torch imported at every parse),
    `snakemake -n --quiet rules --configfile config/paper.yaml` under /usr/bin/time:
        30.7 s wall / 28.6 s CPU [load 0.1]; 62.6 s wall / 31.3 s CPU [load 5.4]
    after (3,807 jobs: one downstream job per checkpoint x task; input paths as patterns; ParseCache),
    this script with --repeats 3 [load 2.0 at the start, 3.1 at the end]:
        baseline 1.31 s wall / 1.41 s CPU
        paper dry run 14.06 s wall / 12.29 s CPU (10.7x baseline); cold parse-time cache 19.26 s / 19.17 s;
        every job printed (no --quiet) 17.33 s / 12.21 s
        no-op rerun of a finished micro study (--finished-config config/micro.yaml) 1.58 s / 1.58 s
    idle machine (load 0.1), --repeats 2, after peft became a lazy import, --finished on the toy study:
        baseline 1.07 s; paper dry run 9.32 s wall / 9.40 s CPU (8.7x); cold 11.94 s / 12.00 s; every job
        printed 11.36 s; no-op rerun of the finished toy study 1.51 s (1.4x)
    cProfile of the warm paper dry run: 0.08 s of 39.5 s profiled are spent in the workflow's own code (rules,
    Snakefile, fairforget); the rest is Snakemake building, checking and scheduling the DAG (about 3 ms a job).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


@dataclass
class Timing:
    wall: float  # seconds
    cpu: float  # user + system seconds of the snakemake process (less inflated than wall by other load)
    output: str


def timed(args: list[str], cwd: Path, repeats: int) -> Timing:
    """The run with the best wall time of `repeats` runs."""
    best = Timing(float("inf"), float("inf"), "")
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run([SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise SystemExit(f"snakemake {' '.join(args)} failed in {cwd}:\n{output[-3000:]}")
        if wall < best.wall:
            best = Timing(wall, cpu, output)
    return best


def baseline(repeats: int) -> Timing:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "Snakefile").write_text('rule all:\n    output: "x"\n    shell: "touch {output}"\n')
        return timed(["-n", "--quiet", "rules"], Path(tmp), repeats)


def report(label: str, timing: Timing, base: Timing) -> None:
    print(
        f"{label}: {job_count(timing.output)} jobs planned in {timing.wall:.2f} s wall, {timing.cpu:.2f} s CPU "
        f"(ratio to baseline {timing.wall / base.wall:.1f}x wall, {timing.cpu / base.cpu:.1f}x CPU; "
        "target < 15 s)"
    )


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
    parser.add_argument("--finished-config", help="the --configfile that study ran with (default: the toy's)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    base = baseline(args.repeats)
    print(f"baseline: bare `snakemake -n` of a one-rule workflow: {base.wall:.2f} s wall, {base.cpu:.2f} s CPU")
    paper_args = ["-n", "--quiet", "rules", "--configfile", "config/paper.yaml"]
    shutil.rmtree(REPO / ".snakemake" / "fairforget", ignore_errors=True)  # a cold parse-time cache first
    report("paper grid `snakemake -n` (cold parse-time cache)", timed(paper_args, REPO, 1), base)
    report("paper grid `snakemake -n`", timed(paper_args, REPO, args.repeats), base)
    printed = timed(["-n", "--configfile", "config/paper.yaml"], REPO, 1)
    report("paper grid `snakemake -n`, every job printed (no --quiet)", printed, base)
    if args.finished:
        config = ["--configfile", args.finished_config] if args.finished_config else []
        noop = timed(["-n", "--quiet", "rules", *config], args.finished, args.repeats)
        report("no-op rerun of the finished study", noop, base)
        print("\nstage-by-stage (from the rules' benchmark files):")
        print(f"{'rule':<22}{'jobs':>6}{'wall s':>10}{'peak RSS MB':>13}")
        total = 0.0
        for rule, (n, seconds, rss) in sorted(stage_table(args.finished / "results").items(), key=lambda x: -x[1][1]):
            total += seconds
            print(f"{rule:<22}{n:>6}{seconds:>10.1f}{rss:>13.0f}")
        print(f"{'sum of job wall times':<28}{total:>10.1f}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
