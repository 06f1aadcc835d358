# Config access, the run grid and input functions shared by every stage.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from fairforget.config import run_grid, size_label  # noqa: E402
from fairforget.registry import load_plugins  # noqa: E402
from fairforget.checks import check_config  # noqa: E402

# Semantic checks the JSON schema cannot express (unknown objective names, ...): fail before any job.
load_plugins(config.get("plugins", []), base_dir=workflow.basedir)
check_config(config)

R = config["results_dir"]
RUNS = run_grid(config)
RUN = "{model}/{objective}/{remedy}/{size}/seed{seed}"
TASKS = list(config["data"]["downstream"]["tasks"])
DOWNSTREAM_SEEDS = list(config["downstream"]["seeds"])
ENV = "../envs/fairforget.yaml"


wildcard_constraints:
    model=r"[A-Za-z0-9._-]+",
    objective=r"[A-Za-z0-9._-]+",
    remedy=r"[A-Za-z0-9._-]+",
    size=r"full|[0-9]+",
    seed=r"[0-9]+",
    dseed=r"[0-9]+",
    task=r"[A-Za-z0-9_-]+",


def model_kind(model):
    return config["models"][model]["kind"]


def run_paths(pattern):
    """Expand a pattern with {RUN} (and {R}) over every fine-tuning run."""
    return [pattern.format(R=R, RUN=run.path) for run in RUNS]


def base_sidecar(wildcards):
    return f"{R}/models/base/{wildcards.model}.sha256"


def base_dir(wildcards):
    return f"{R}/models/base/{wildcards.model}"


def finetuned_dir(wildcards):
    return f"{R}/models/finetuned/{RUN}".format(**wildcards)


def finetuned_sidecar(wildcards):
    return f"{R}/models/finetuned/{RUN}.sha256".format(**wildcards)


def run_wildcards(wildcards):
    """The identity of a run as a plain dict (recorded in manifests and results)."""
    return {
        "model": wildcards.model,
        "objective": wildcards.objective,
        "remedy": wildcards.remedy,
        "size": wildcards.size,
        "seed": int(wildcards.seed),
    }


def downstream_results():
    base = [
        f"{R}/downstream/base/{model}/{task}/seed{dseed}.json"
        for model in config["models"]
        for task in TASKS
        for dseed in DOWNSTREAM_SEEDS
    ]
    tuned = [
        f"{R}/downstream/finetuned/{run.path}/{task}/seed{dseed}.json"
        for run in RUNS
        for task in TASKS
        for dseed in DOWNSTREAM_SEEDS
    ]
    return base + tuned


def eval_results():
    base = [f"{R}/eval/base/{model}/metrics.json" for model in config["models"]]
    return base + run_paths("{R}/eval/finetuned/{RUN}/metrics.json")


FIGURES = [
    "downstream_vs_overall_forgetting",
    "selective_vs_overall_forgetting",
    "remedies_paired",
    "bias_vs_forgetting_frontier",
    "trajectory_forgetting",
    "data_size_sweep",
]


def final_outputs():
    figures = [f"{R}/figures/{name}.{ext}" for name in FIGURES for ext in ("png", "pdf")]
    return [f"{R}/tables/runs.parquet", f"{R}/tables/runs.csv", f"{R}/findings.md"] + figures
