"""One evaluation job of a finished toy study under three thread settings, each in a fresh process and result
store, one after the other: 2 threads with OMP_WAIT_POLICY unset (libgomp's default: a waiting thread spins
before it sleeps; main before issue 21), 2 threads with OMP_WAIT_POLICY=PASSIVE (what workflow_scripts/_bootstrap.py
now sets) and 1 thread.

    python benchmarks/bench_eval_threads.py --study DIR [--run bert-tiny/dropout/l2sp/full/seed0] [--settings ...]

DIR is a folder where the toy study (config/config.yaml) has run at least build_base_model and the run's
finetune job (e.g. a `bench_toy_study.py --keep` folder). Each setting runs evaluate_base of the run's base
model and then evaluate_checkpoint of the run, as the rules call them. Printed per setting: CPU seconds
(user + system, all threads) and wall seconds of each, the load average, the ratio to the first setting, and
whether the score files and metrics equal the first setting's bit for bit.

Why: with `--cores 2` the evaluation rules get 2 threads. On a shared (oversubscribed) machine one of a job's
two threads is often off the CPU, and the other spins at every one of the thousands of tiny parallel regions of
a toy model's forward passes. The wait policy changes how a thread waits, not how the work is split, so the
scores stay identical; one thread splits float32 sums differently (scores differ by about 1e-7 relative).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SETTINGS: dict[str, dict[str, int | str | None]] = {
    "2-default": {"threads": 2, "OMP_WAIT_POLICY": None},
    "2-passive": {"threads": 2, "OMP_WAIT_POLICY": "PASSIVE"},
    "1-thread": {"threads": 1, "OMP_WAIT_POLICY": "PASSIVE"},
}

# Runs in the child process (cwd = the study folder): argv = repo, threads, out dir, run.
CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, os.path.join(sys.argv[1], "src"))
import yaml
from fairforget.evaluation.stage import evaluate_base, evaluate_checkpoint
from fairforget.metrics.inputs import evaluation_inputs

threads, out, run = int(sys.argv[2]), sys.argv[3], sys.argv[4]
model = run.split("/")[0]
cfg = yaml.safe_load(open("config/config.yaml"))
inputs = evaluation_inputs(cfg["evaluation"], "results", os.path.abspath("resources/data/seat"))
common = dict(heldout=inputs["heldout"], probes=inputs["probes"], seat_dir=inputs["seat_dir"],
              evaluation=cfg["evaluation"], store_dir=f"{out}/store", threads=threads)
base = f"results/models/base/{model}"

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

times = {}
c, w = cpu(), time.perf_counter()
evaluate_base(model_dir=base, sidecar=f"{base}.sha256", scores_dir=f"{out}/base_scores",
              metrics_json=f"{out}/base.json", **common)
times["evaluate_base"] = (cpu() - c, time.perf_counter() - w)
c, w = cpu(), time.perf_counter()
evaluate_checkpoint(base_model_dir=base, base_sidecar=f"{base}.sha256", base_scores_dir=f"{out}/base_scores",
                    model_dir=f"results/models/finetuned/{run}", sidecar=f"results/models/finetuned/{run}.sha256",
                    trajectory=f"results/training/{run}/trajectory.parquet", scores_dir=f"{out}/checkpoint_scores",
                    metrics_json=f"{out}/checkpoint.json", **common)
times["evaluate_checkpoint"] = (cpu() - c, time.perf_counter() - w)
print("TIMES " + json.dumps(times))
"""

OUTPUTS = ("base_scores/tokens.parquet", "base_scores/sentences.parquet", "checkpoint_scores/tokens.parquet")


def run_setting(study: Path, run: str, name: str, out: Path) -> dict[str, list[float]]:
    setting = SETTINGS[name]
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if setting["OMP_WAIT_POLICY"] is not None:
        env["OMP_WAIT_POLICY"] = str(setting["OMP_WAIT_POLICY"])
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(REPO), str(setting["threads"]), str(out), run],
        cwd=study,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{name}: evaluation failed:\n{result.stderr[-3000:]}")
    line = next(line for line in result.stdout.splitlines() if line.startswith("TIMES "))
    return json.loads(line.removeprefix("TIMES "))


def identical(first: Path, other: Path) -> bool:
    files = all(filecmp.cmp(first / name, other / name, shallow=False) for name in OUTPUTS)
    metrics = all(
        json.loads((first / name).read_text())["metrics"] == json.loads((other / name).read_text())["metrics"]
        for name in ("base.json", "checkpoint.json")
    )
    return files and metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", type=Path, required=True, help="folder of a (partly) finished toy study")
    parser.add_argument("--run", default="bert-tiny/dropout/l2sp/full/seed0", help="model/objective/remedy/size/seed")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_eval_threads_") as tmp:
        outs, rows, load = {}, {}, {}
        for name in args.settings:
            outs[name] = Path(tmp, name)
            rows[name] = run_setting(args.study.resolve(), args.run, name, outs[name])
            load[name] = os.getloadavg()[0]
        first = args.settings[0]
        print(f"{'setting':<11}{'job':<21}{'CPU s':>8}{'wall s':>8}{'CPU ratio':>11}{'wall ratio':>11}{'load':>6}")
        for name in args.settings:
            for job in ("evaluate_base", "evaluate_checkpoint"):
                cpu, wall = rows[name][job]
                cpu0, wall0 = rows[first][job]
                print(
                    f"{name:<11}{job:<21}{cpu:>8.1f}{wall:>8.1f}{cpu / cpu0:>11.2f}{wall / wall0:>11.2f}"
                    f"{load[name]:>6.1f}"
                )
        for name in args.settings[1:]:
            same = identical(outs[first], outs[name])
            print(f"{name} vs {first}: scores and metrics {'IDENTICAL' if same else 'DIFFER'}")


if __name__ == "__main__":
    main()
