"""The toy study end to end: fixed start-up share of its job time and its wall time, against a baseline revision
run in the same invocation, and whether both produced the same results.

    python benchmarks/bench_toy_study.py [--baseline-rev HEAD~1] [--cores 2] [--keep DIR] [--skip-baseline]
    python benchmarks/bench_toy_study.py --baseline-finished DIR --finished DIR   (report finished runs only)

Both studies run `snakemake --cores N` (config/config.yaml) in fresh copies: the baseline is `git archive` of
--baseline-rev, the candidate is the working tree (tracked and untracked, not ignored files). Both use this
venv's Snakemake and Python; each job's rule script puts its own copy's src/ first on sys.path, so each runs its
own code. They run one after the other (never at once: that would halve each one's cores).

Every job's interpreter runs benchmarks/startup_probe/sitecustomize.py, which records the CPU time it spent
starting the interpreter and inside `import` statements (the fixed start-up, paid by every job whatever its
work), and the CPU time of the whole process. Printed per rule: jobs, summed job CPU seconds, summed start-up CPU
seconds, the start-up share and the summed job wall seconds; then the totals and the end-to-end wall time of each
study and their ratio. CPU seconds are reported because the machine may be shared: other load inflates wall time,
CPU time much less (except for a job running more threads than it gets cores: its idle threads spin, so its CPU
time exceeds its wall time).
The load average before and after each study is printed with it.

Finally tools/compare_results.py compares the two results/ folders (exit status 0 = identical products).

Every rule's Snakemake benchmark files (results/benchmarks/, each job's wall `s` and `cpu_time`) are compared
too, per rule: they exist in any finished study, also one run without the probe (e.g. by hand), so
--baseline-finished may name such a folder (`--baseline-log` its Snakemake log for the wall time). A job that
another revision splits into two rules (on CPU studies evaluate_checkpoint also runs what downstream_finetuned
ran, evaluate_fused what downstream_fused ran, evaluate_base what downstream_base ran) is compared as one row.

--baseline-finished / --finished report study folders this script ran earlier (with --keep) instead of running
them: their probe records and the wall time in bench_record.json (else the first and last time stamps of
snakemake.out or of --baseline-log). A --finished folder may be a partial rerun: a copy of a finished baseline in
which only some rules' outputs were deleted and remade by the candidate code. Its report then combines the rerun
rules' records with the baseline's for the rules that did not rerun (`combined`), and states which rules those are;
its wall time is that of the rerun only and no end-to-end ratio is printed.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROBE = REPO / "benchmarks" / "startup_probe"
BIN = Path(sys.executable).parent
# What a partial rerun remakes (the downstream results, or those and the analysis) and is compared on.
RERUN_PRODUCTS = ("downstream", "tables", "findings.md", "figures")
# Rules whose jobs the evaluation jobs of a CPU study run since issue 30 (rules/inputs/downstream.smk): compared
# as one row with the rule that now runs them.
RUN_BY = {
    "downstream_base": "evaluate_base",
    "downstream_finetuned": "evaluate_checkpoint",
    "downstream_fused": "evaluate_fused",
}


@dataclass
class RuleTotals:
    jobs: int = 0
    cpu: float = 0.0  # summed CPU seconds of the rule's job processes
    startup: float = 0.0  # summed CPU seconds of their interpreter start-up and imports
    wall: float = 0.0  # summed wall seconds of their processes (a job using more cores than it gets: CPU > wall)


@dataclass
class StudyRun:
    label: str
    wall: float
    cpu_children: float  # user + system seconds of snakemake and all its jobs
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    rules: dict[str, RuleTotals] = field(default_factory=dict)
    complete: bool = True  # False: a partial rerun, combined with the baseline's records of the other rules

    def total(self) -> RuleTotals:
        jobs = [totals for rule, totals in self.rules.items() if rule != "snakemake"]
        return RuleTotals(
            sum(t.jobs for t in jobs),
            sum(t.cpu for t in jobs),
            sum(t.startup for t in jobs),
            sum(t.wall for t in jobs),
        )


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"


def copy_revision(rev: str, dest: Path) -> None:
    """The files of a git revision (as committed) in dest."""
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=REPO, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")


def copy_working_tree(dest: Path) -> None:
    """The working tree's tracked and untracked, not ignored files, as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    for name in listed.stdout.decode().split("\0"):
        source = REPO / name
        if name and source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def read_probes(probe_dir: Path) -> dict[str, RuleTotals]:
    rules: dict[str, RuleTotals] = defaultdict(RuleTotals)
    for path in probe_dir.glob("*.json"):
        record = json.loads(path.read_text())
        rule = record["rule"]
        if rule == "snakemake" or record["argv0"].endswith("/snakemake"):
            rule = "snakemake"
        elif rule.endswith(".py"):
            rule = rule.removesuffix(".py")  # a shell: job (finetune.py) is named by its script
        totals = rules[rule]
        totals.jobs += 1
        totals.cpu += record["cpu_total"]
        totals.startup += record["cpu_start"] + record["cpu_imports"]
        totals.wall += record["wall_total"]
    return dict(rules)


def read_benchmark_files(results: Path) -> dict[str, RuleTotals]:
    """Per rule: jobs, summed `cpu_time` and wall `s` of Snakemake's benchmark files (results/benchmarks/RULE/...);
    no start-up figure (NaN): that needs the probe."""
    rules: dict[str, RuleTotals] = defaultdict(lambda: RuleTotals(startup=float("nan")))
    for path in sorted((results / "benchmarks").glob("*/**/*.tsv")):
        header, values = path.read_text().splitlines()[:2]
        row = dict(zip(header.split("\t"), values.split("\t"), strict=True))
        totals = rules[path.relative_to(results / "benchmarks").parts[0]]
        totals.jobs += 1
        totals.cpu += float(row["cpu_time"])
        totals.wall += float(row["s"])
    return dict(rules)


def compare_benchmark_files(before: Path, after: Path) -> None:
    """Per rule (RUN_BY's rules as one row with the rule that runs them now): jobs and CPU seconds from Snakemake's
    benchmark files of both studies, and the ratio."""
    rows: dict[str, dict[str, RuleTotals]] = defaultdict(dict)
    for side, folder in (("before", before), ("after", after)):
        for rule, totals in read_benchmark_files(folder / "results").items():
            row = rows[RUN_BY.get(rule, rule)].setdefault(side, RuleTotals())
            row.jobs += totals.jobs
            row.cpu += totals.cpu
            row.wall += totals.wall
    print("\nper rule from Snakemake's benchmark files (cpu_time of each job's processes), before -> after")
    print(f"  {'rule':<42}{'jobs':>10}{'CPU s':>18}{'ratio':>8}")
    sums = {"before": RuleTotals(), "after": RuleTotals()}
    for rule in sorted(rows, key=lambda name: -rows[name].get("before", RuleTotals()).cpu):
        sides = {side: rows[rule].get(side, RuleTotals()) for side in ("before", "after")}
        for side, totals in sides.items():
            sums[side].jobs += totals.jobs
            sums[side].cpu += totals.cpu
        label = rule + "".join(f" + {split}" for split, runner in RUN_BY.items() if runner == rule)
        print(_benchmark_row(label, sides["before"], sides["after"]))
    print(_benchmark_row("all jobs", sums["before"], sums["after"]))


def _benchmark_row(label: str, before: RuleTotals, after: RuleTotals) -> str:
    ratio = f"{after.cpu / before.cpu:.2f}" if before.cpu else "-"
    jobs = f"{before.jobs} -> {after.jobs}"
    cpu = f"{before.cpu:.1f} -> {after.cpu:.1f}"
    return f"  {label:<42}{jobs:>10}{cpu:>18}{ratio:>8}"


def run_study(label: str, workdir: Path, cores: int) -> StudyRun:
    probe_dir = workdir / ".startup_probe"
    probe_dir.mkdir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROBE), *filter(None, [env.get("PYTHONPATH")])])
    env["FAIRFORGET_STARTUP_PROBE"] = str(probe_dir)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    load_before = os.getloadavg()
    print(f"[{time.strftime('%H:%M:%S')}] {label}: snakemake --cores {cores} in {workdir}", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(workdir / "snakemake.out", "w") as out:
        result = subprocess.run(
            [str(BIN / "snakemake"), "--cores", str(cores)], cwd=workdir, env=env, stdout=out, stderr=out, check=False
        )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        tail = (workdir / "snakemake.out").read_text()[-3000:]
        raise SystemExit(f"{label}: snakemake failed (rc {result.returncode}) in {workdir}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run = StudyRun(label, wall, cpu, load_before, os.getloadavg(), read_probes(probe_dir))
    record = {"label": label, "wall": wall, "cpu": cpu, "load_before": load_before, "load_after": run.load_after}
    (workdir / "bench_record.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"[{time.strftime('%H:%M:%S')}] {label}: done in {wall:.0f} s", flush=True)
    return run


STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$", re.MULTILINE)


def finished_study(label: str, workdir: Path, log: Path | None = None) -> StudyRun:
    """A study this script ran earlier (--keep), or that ran with the probe on PYTHONPATH, or without it (then
    only its benchmark files and the wall time of `log`, its Snakemake output, are reported)."""
    rules = read_probes(workdir / ".startup_probe") if (workdir / ".startup_probe").is_dir() else {}
    record_path = workdir / "bench_record.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        return StudyRun(
            label, record["wall"], record["cpu"], tuple(record["load_before"]), tuple(record["load_after"]), rules
        )
    log = log or workdir / "snakemake.out"
    stamps = [
        datetime.datetime.strptime(stamp, "%a %b %d %H:%M:%S %Y")
        for stamp in (STAMP.findall(log.read_text()) if log.is_file() else [])
    ]
    wall = (stamps[-1] - stamps[0]).total_seconds() if stamps else float("nan")
    nan = (float("nan"),) * 3
    return StudyRun(label, wall, float("nan"), nan, nan, rules)


def not_rerun(candidate: StudyRun, baseline: StudyRun) -> list[str]:
    """The baseline's rules that have no records in the candidate, leaving out those whose jobs the candidate's
    evaluation jobs run (RUN_BY): a complete candidate has none."""
    return sorted(
        rule
        for rule in baseline.rules
        if rule not in candidate.rules and RUN_BY.get(rule) not in candidate.rules and rule != "snakemake"
    )


def combined(partial: StudyRun, baseline: StudyRun) -> StudyRun:
    """The partial rerun's rules, and the baseline's records of every rule the rerun did not run."""
    rules = dict(partial.rules)
    kept = not_rerun(partial, baseline)
    for rule in kept:
        rules[rule] = baseline.rules[rule]
    print(f"{partial.label}: rules not rerun, their baseline records used: {', '.join(kept)}")
    return StudyRun(
        partial.label,
        partial.wall,
        partial.cpu_children,
        partial.load_before,
        partial.load_after,
        rules,
        complete=False,
    )


def print_study(run: StudyRun) -> None:
    load = " / ".join(f"{a:.1f}" for a in (run.load_before[0], run.load_after[0]))
    print(f"\n{run.label} (load average before / after: {load}){'' if run.complete else ', combined'}")
    if not run.rules:
        print(f"  no start-up probe records; {run.wall:.1f} s wall from its Snakemake log's time stamps")
        return
    print(
        f"  {'rule':<22}{'jobs':>6}{'job CPU s':>11}{'start-up CPU s':>16}{'per job':>9}{'share':>8}{'job wall s':>12}"
    )
    for rule, totals in sorted(run.rules.items(), key=lambda item: -item[1].cpu):
        if rule == "snakemake":
            continue
        share = totals.startup / totals.cpu if totals.cpu else 0.0
        per_job = totals.startup / totals.jobs
        print(
            f"  {rule:<22}{totals.jobs:>6}{totals.cpu:>11.1f}{totals.startup:>16.1f}{per_job:>9.2f}{share:>8.1%}"
            f"{totals.wall:>12.1f}"
        )
    total = run.total()
    print(
        f"  {'all jobs':<22}{total.jobs:>6}{total.cpu:>11.1f}{total.startup:>16.1f}"
        f"{total.startup / total.jobs:>9.2f}{total.startup / total.cpu:>8.1%}{total.wall:>12.1f}"
    )
    snakemake = run.rules.get("snakemake")
    if snakemake:
        print(f"  Snakemake's own process: {snakemake.cpu:.1f} s CPU")
    what = "end to end" if run.complete else "the partial rerun"
    print(f"  {what}: {run.wall:.1f} s wall, {run.cpu_children:.1f} s CPU (Snakemake and every job)")


def compare(before: Path, after: Path) -> int:
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "compare_results.py"), str(before), str(after)],
        capture_output=True,
        text=True,
        check=False,
    )
    print(result.stdout[-4000:] + result.stderr[-2000:])
    return result.returncode


def summary(before: StudyRun, after: StudyRun, before_dir: Path, after_dir: Path) -> None:
    b, a = before.total(), after.total()
    compare_benchmark_files(before_dir, after_dir)
    if not b.jobs:
        pass  # the baseline ran without the probe: its benchmark files above are the comparison
    elif after.complete:
        print(
            f"\nstart-up share of job CPU time: {b.startup / b.cpu:.1%} -> {a.startup / a.cpu:.1%}; "
            f"start-up CPU {b.startup:.0f} s -> {a.startup:.0f} s ({b.jobs} -> {a.jobs} jobs); "
            f"job CPU {b.cpu:.0f} s -> {a.cpu:.0f} s (ratio {a.cpu / b.cpu:.2f})"
        )
    else:
        print(
            "\na partial rerun covers only some of the baseline's jobs of the rerun rules: compare those rules per "
            "checkpoint (benchmarks/README.md), not these totals"
        )
    if after.complete:
        print(f"end-to-end wall time: {before.wall:.0f} s -> {after.wall:.0f} s (ratio {after.wall / before.wall:.2f})")
    if after.complete:
        status = compare(before_dir / "results", after_dir / "results")
    else:  # a partial rerun: compare the files it made with the baseline's same files
        with tempfile.TemporaryDirectory() as tmp:
            made = [
                path.relative_to(after_dir / "results")
                for path in (after_dir / "results").rglob("*")
                if path.is_file() and path.relative_to(after_dir / "results").parts[0] in RERUN_PRODUCTS
            ]
            for side, root in (("before", before_dir), ("after", after_dir)):
                for name in made:
                    target = Path(tmp, side, name)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(root / "results" / name, target)
            print(f"comparing the {len(made)} files the partial rerun made ({', '.join(RERUN_PRODUCTS)})")
            status = compare(Path(tmp, "before"), Path(tmp, "after"))
    print("results identical" if status == 0 else f"RESULTS DIFFER (compare_results exit {status})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-rev", default="HEAD~1", help="git revision of the baseline (default HEAD~1)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep both study folders here (default: a temporary folder)")
    parser.add_argument("--skip-baseline", action="store_true", help="run only the working tree")
    parser.add_argument("--baseline-finished", type=Path, help="report this finished baseline study folder")
    parser.add_argument("--finished", type=Path, help="report this finished (or partially rerun) candidate folder")
    parser.add_argument("--baseline-log", type=Path, help="the --baseline-finished study's Snakemake log (wall time)")
    args = parser.parse_args()

    print(f"machine: {cpu_model()} ({cpu_flags()}), {os.cpu_count()} cores; Python {platform.python_version()}")
    if args.finished:
        after = finished_study(f"candidate ({args.finished})", args.finished)
        if not args.baseline_finished:
            print_study(after)
            return
        before = finished_study(f"baseline ({args.baseline_finished})", args.baseline_finished, args.baseline_log)
        if before.rules and not_rerun(after, before):
            after = combined(after, before)
        print_study(before)
        print_study(after)
        summary(before, after, args.baseline_finished, args.finished)
        return

    rev = subprocess.run(
        ["git", "rev-parse", "--short", args.baseline_rev], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_toy_study_"))
    root.mkdir(parents=True, exist_ok=True)
    runs: list[StudyRun] = []
    baseline_dir = root / f"baseline-{rev}"
    if not args.skip_baseline:
        shutil.rmtree(baseline_dir, ignore_errors=True)
        copy_revision(rev, baseline_dir)
        runs.append(run_study(f"baseline ({args.baseline_rev} = {rev})", baseline_dir, args.cores))
    candidate_dir = root / "working-tree"
    shutil.rmtree(candidate_dir, ignore_errors=True)
    copy_working_tree(candidate_dir)
    runs.append(run_study("working tree", candidate_dir, args.cores))

    for run in runs:
        print_study(run)
    if len(runs) == 2:
        summary(runs[0], runs[1], baseline_dir, candidate_dir)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
