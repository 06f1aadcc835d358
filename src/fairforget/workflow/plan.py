"""`fairforget plan`: what a study costs before it is launched - jobs per rule, tokens, FLOPs and GPU-hours.

Job counts follow the rules' own expansion (the run grid of `fairforget.config.grid`, one downstream job per
checkpoint, or per checkpoint x task when a model asks for GPUs, as rules/inputs/downstream.smk decides; the
fused checkpoints of the `fusion:` section likewise);
tests/unit/workflow/test_plan.py checks them against a Snakemake dry run. Nothing is downloaded or read from the
prepared data: a hub model's size is `models.<name>.n_params`, else its cached config.json, else unknown.

Compute: FLOPs = 6 * N * tokens for training (finetune; downstream fine-tuning: forward 2N + backward 4N per
token, Kaplan et al. 2020), N = parameters; attention's own FLOPs and a counterfactual twin's extra forward pass
are left out. GPU-hours = FLOPs / rate, where the rate is, per model:
- measured, where benchmarks/ holds a GPU figure for a model of that kind and size (`bench_gpu.py`'s JSON under
  benchmarks/results/): 6 * N * its best bf16 tokens/s. Those runs trained padded random-length batches (real
  tokens counted), so for packed blocks, with no padding, they are a conservative (low) rate; they are one GPU
  type's figures (the file names it: an H200 today) and are applied to downstream fine-tuning's shorter
  sequences too (an approximation);
- else an assumption: an A100's dense bf16 peak (312 TFLOP/s) at 30% model FLOPs utilisation.
--gpu-peak-tflops / --mfu replace both by the assumption with the given figures.
Tokens: finetune runs with max_steps: steps x effective batch x block_size (packed: exact) or x max_length
(unpacked: an upper bound, batches pad to their longest text). Runs without max_steps need the corpus size,
which only the data stage knows: their row says so. Downstream: epochs x training examples x max_length per
task and downstream seed (an upper bound), the examples from data.downstream.train_max_examples or the shipped
GLUE train.tsv; the linear_probe mode one forward pass (2 * N FLOPs a token) per training example x max_length,
for all seeds (the dev examples, a few hundred per task, are left out as they are for fine-tuning). Evaluation
jobs are counted, not costed (a small share next to fine-tuning at paper scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairforget.config.grid import run_grid, run_training_config
from fairforget.fusion.settings import FusionSettings, fused_runs

A100_BF16_TFLOPS = 312.0
DEFAULT_MFU = 0.30
TRAIN_FLOPS_PER_PARAM_TOKEN = 6
INFERENCE_FLOPS_PER_PARAM_TOKEN = 2
# Rules with one job per study (rules/data.smk, rules/analysis.smk; `all` is the default target).
SINGLE_JOB_RULES = (
    "prepare_general",
    "prepare_planted",
    "prepare_probes",
    "prepare_debias",
    "leakage_card",
    "aggregate_table",
    "findings",
    "figures",
    "all",
)


@dataclass
class RulePlan:
    rule: str
    jobs: int
    tokens: float | None = None  # None: not estimated
    flops: float | None = None
    hours: float | None = None
    note: str = ""

    def add(self, tokens: float, flops: float, rate: float) -> None:
        self.tokens = (self.tokens or 0.0) + tokens
        self.flops = (self.flops or 0.0) + flops
        self.hours = (self.hours or 0.0) + flops / rate / 3600


@dataclass(frozen=True)
class Rate:
    """Sustained training FLOP/s of one GPU for a model, and where the figure comes from."""

    flops_per_second: float
    source: str


def assumed_rate(peak_tflops: float = A100_BF16_TFLOPS, mfu: float = DEFAULT_MFU) -> Rate:
    return Rate(peak_tflops * 1e12 * mfu, f"assumed: {peak_tflops:g} TFLOP/s peak x {mfu:.0%} MFU")


def measured_rates(repo: Path) -> list[tuple[str, int, Rate]]:
    """(kind, N, rate) of every model benchmarks/results/bench_gpu*.json measured: its best bf16 tokens/s."""
    import json

    found = []
    for path in sorted((repo / "benchmarks" / "results").glob("bench_gpu*.json")):
        rows = json.loads(path.read_text(encoding="utf-8")).get("rows", [])
        best: dict[tuple[str, int], dict[str, Any]] = {}
        for row in rows:
            if row.get("device") != "cuda" or row.get("mixed_precision") != "bf16":
                continue
            kind = "masked" if "bert" in str(row["model"]).lower() else "causal"
            key = (kind, int(row["n_params"]))
            if key not in best or row["tokens_per_second"] > best[key]["tokens_per_second"]:
                best[key] = row
        for (kind, n), row in best.items():
            rate = TRAIN_FLOPS_PER_PARAM_TOKEN * n * float(row["tokens_per_second"])
            source = (
                f"measured: {row['tokens_per_second']:,.0f} tokens/s ({row['variant']}, {row['batch_size']} x "
                f"{row['max_len']}, {1 - row['tokens'] / row['padded_tokens']:.0%} padding) in {path.relative_to(repo)}"
            )
            found.append((kind, n, Rate(rate, source)))
    return found


def model_rate(kind: str, n: int | None, measured: list[tuple[str, int, Rate]], fallback: Rate) -> Rate:
    """The measured rate of a model of this kind within 2% of its size, else `fallback`."""
    for measured_kind, measured_n, rate in measured:
        if n is not None and measured_kind == kind and abs(measured_n - n) <= 0.02 * n:
            return rate
    return fallback


def n_params(name: str, model: dict[str, Any]) -> int | None:
    """`models.<name>.n_params`, else counted on the meta device from the toy architecture or the cached hub
    config.json; None when neither is at hand."""
    if model.get("n_params"):
        return int(model["n_params"])
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, BertConfig, LlamaConfig
    except ImportError:  # pragma: no cover - both are dependencies
        return None
    config: Any = None
    if model.get("source") == "toy" and model.get("architecture"):
        config = (BertConfig if model["kind"] == "masked" else LlamaConfig)(**model["architecture"])
    elif model.get("source") == "hub" and model.get("hub_id"):
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model["hub_id"], "config.json")
        if isinstance(cached, str):
            config = AutoConfig.from_pretrained(Path(cached).parent)
    if config is None:
        return None
    auto = AutoModelForMaskedLM if model["kind"] == "masked" else AutoModelForCausalLM
    with torch.device("meta"):
        built = auto.from_config(config)
    return sum(p.numel() for p in built.parameters())


def finetune_tokens(config: dict[str, Any], run: Any) -> tuple[float | None, bool]:
    """(tokens the run trains on, exact?) - None without max_steps (the corpus size decides)."""
    cfg = run_training_config(config, run.model, run.objective, run.remedy)
    if not cfg.get("max_steps"):
        return None, False
    sequences = int(cfg["max_steps"]) * int(cfg["batch_size"]) * int(cfg["gradient_accumulation_steps"])
    packed = bool(cfg.get("packing"))
    length = int(cfg.get("block_size") or cfg["max_length"]) if packed else int(cfg["max_length"])
    return float(sequences * length), packed


def glue_train_examples(config: dict[str, Any], task: str, repo: Path) -> int | None:
    cap = config["data"]["downstream"].get("train_max_examples")
    from fairforget.data.glue import TASKS

    path = repo / "resources" / "data" / "glue" / TASKS[task].folder / "train.tsv"
    shipped = sum(1 for _ in path.open(encoding="utf-8")) - 1 if path.is_file() else None
    if cap is not None:
        return int(cap) if shipped is None else min(int(cap), shipped)
    return shipped


def downstream_tokens(config: dict[str, Any], model: str, repo: Path) -> tuple[float | None, int]:
    """(tokens of one checkpoint's downstream jobs, FLOPs per parameter and token) for `model`."""
    downstream = config["downstream"]
    kind = config["models"][model]["kind"]
    mode = config["models"][model].get("downstream_mode") or downstream["mode"][kind]
    total = 0.0
    for task in config["data"]["downstream"]["tasks"]:
        examples = glue_train_examples(config, task, repo)
        if examples is None:
            return None, TRAIN_FLOPS_PER_PARAM_TOKEN
        total += examples
    seeds = len(downstream["seeds"])
    if mode == "zeroshot":  # scored, not trained: the dev split only, at most as large as train
        return None, INFERENCE_FLOPS_PER_PARAM_TOKEN
    if mode == "linear_probe":  # one forward pass per training example, once for every seed (no seed in it)
        return float(total * int(downstream["max_length"])), INFERENCE_FLOPS_PER_PARAM_TOKEN
    return float(
        seeds * float(downstream["epochs"]) * total * int(downstream["max_length"])
    ), TRAIN_FLOPS_PER_PARAM_TOKEN


def plan_study(
    config: dict[str, Any], repo: str | Path = ".", assumption: Rate | None = None
) -> tuple[list[RulePlan], dict[str, int | None], dict[str, Rate]]:
    """The rows of the plan (one per rule), and the parameter count and GPU rate of each model (`assumption`
    for every model when given, else measured where benchmarks/ has it)."""
    repo = Path(repo)
    runs = run_grid(config)
    models = list(config["models"])
    tasks = list(config["data"]["downstream"]["tasks"])
    per_task = any(int(m.get("gpus", 0) or 0) > 0 for m in config["models"].values())
    downstream_jobs = len(tasks) if per_task else 1
    params = {name: n_params(name, config["models"][name]) for name in models}
    measured = [] if assumption is not None else measured_rates(repo)
    rates = {
        name: model_rate(config["models"][name]["kind"], params[name], measured, assumption or assumed_rate())
        for name in models
    }

    rows = [RulePlan(rule, 1) for rule in SINGLE_JOB_RULES]
    rows.append(RulePlan("prepare_downstream", len(tasks)))
    rows.append(RulePlan("build_base_model", len(models)))
    evaluate_base = RulePlan("evaluate_base", len(models), note="inference; not costed")
    rows.append(evaluate_base)
    evaluate_checkpoint = RulePlan("evaluate_checkpoint", len(runs), note="inference; not costed")
    rows.append(evaluate_checkpoint)

    finetune = RulePlan("finetune", len(runs))
    unknown = 0
    for run in runs:
        tokens, _ = finetune_tokens(config, run)
        n = params[run.model]
        if tokens is None or n is None:
            unknown += 1
            continue
        finetune.add(tokens, TRAIN_FLOPS_PER_PARAM_TOKEN * n * tokens, rates[run.model].flops_per_second)
    if unknown:
        finetune.note = f"{unknown} runs not costed (no max_steps: the corpus decides their length, or N unknown)"
    rows.append(finetune)

    # Fusion (rules/fusion.smk): one fused checkpoint per fused run and weight strictly between 0 and 1, each
    # evaluated and given downstream jobs like a fine-tuned checkpoint; the interpolation itself is not costed.
    fusion = FusionSettings.from_config(config)
    fused = fused_runs(fusion, runs)
    fused_per_model = {m: sum(r.model == m for r in fused) * len(fusion.fused_alphas) for m in models}
    # On CPU studies a model's evaluation job (base, fine-tuned or fused checkpoint) runs its downstream tasks too
    # (rules/inputs/downstream.smk): their cost is that job's row.
    downstream_rules: list[tuple[str, dict[str, int], RulePlan | None]] = [
        ("downstream_base", {m: 1 for m in models}, evaluate_base),
        ("downstream_finetuned", {m: sum(r.model == m for r in runs) for m in models}, evaluate_checkpoint),
    ]
    n_fused = sum(fused_per_model.values())
    if n_fused:
        rows.append(RulePlan("fuse", n_fused, note="weight interpolation; not costed"))
        evaluate_fused = RulePlan("evaluate_fused", n_fused, note="inference; not costed")
        rows.append(evaluate_fused)
        rows.append(RulePlan("fusion_table", 1))
        downstream_rules.append(("downstream_fused", fused_per_model, evaluate_fused))
    # one checkpoint's downstream tokens per model (it reads the GLUE train files), shared by the three rules
    per_checkpoint = {model: downstream_tokens(config, model, repo) for model in models}
    for rule, checkpoints_per_model, evaluation in downstream_rules:
        if evaluation is not None and not per_task:
            row = evaluation
            row.note = "inference not costed; the downstream tasks it runs costed"
        else:
            row = RulePlan(rule, sum(checkpoints_per_model.values()) * downstream_jobs)
            rows.append(row)
        for model, checkpoints in checkpoints_per_model.items():
            if not checkpoints:
                continue
            (tokens, per_token), n = per_checkpoint[model], params[model]
            if tokens is None or n is None:
                row.note = "not costed for some models (zero-shot, unknown N or GLUE size)"
                continue
            row.add(checkpoints * tokens, checkpoints * tokens * per_token * n, rates[model].flops_per_second)
    return rows, params, rates


def gpu_hours(flops: float, peak_tflops: float, mfu: float) -> float:
    return flops / assumed_rate(peak_tflops, mfu).flops_per_second / 3600


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    exponent = int(math.floor(math.log10(abs(value))))
    return f"{value:,.1f}{unit}" if exponent < 5 else f"{value:.2e}{unit}"


def render_plan(rows: list[RulePlan], params: dict[str, int | None], rates: dict[str, Rate]) -> str:
    """The plan as a text table with its assumptions."""
    lines = [f"{'rule':<22} {'jobs':>6} {'tokens':>10} {'FLOPs':>10} {'GPU-hours':>10}  note"]
    total_jobs, total_hours = 0, 0.0
    for row in rows:
        total_jobs += row.jobs
        total_hours += row.hours or 0.0
        lines.append(
            f"{row.rule:<22} {row.jobs:>6} {_number(row.tokens):>10} {_number(row.flops):>10} "
            f"{_number(row.hours):>10}  {row.note}".rstrip()
        )
    lines.append(f"{'total':<22} {total_jobs:>6} {'':>10} {'':>10} {_number(total_hours):>10}")
    lines.append("")
    for model, n in params.items():
        lines.append(f"{model}: N = {_number(n) if n else 'unknown'}; GPU rate {rates[model].source}")
    lines.append(
        "FLOPs: training 6 N tokens (attention left out); GPU-hours = FLOPs / rate (measured rates are padded-batch "
        "figures: conservative for packed blocks); --gpu-peak-tflops/--mfu assume a rate for every model."
    )
    lines.append(
        "tokens: finetune packed = steps x batch x block_size (exact), unpacked = x max_length (upper bound); "
        "downstream = seeds x epochs x train examples x max_length (upper bound)."
    )
    return "\n".join(lines)
