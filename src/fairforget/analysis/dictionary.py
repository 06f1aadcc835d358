"""Descriptions of the tidy table's columns, for `data_dictionary.md`.

Descriptions are composed from the metric name: a known description of the group and statistic where we have
one, otherwise the name itself, plus what the column suffix (`.ci_low`, `.base`, `.change`, ...) means.
"""

from __future__ import annotations

import polars as pl

IDENTITY = {
    "run_id": "Readable run id: model__objective__remedy__size__seed<seed>.",
    "model": "Base model name (config key `models`).",
    "objective": "Debiasing objective arm (config key `objectives`); `none` is plain fine-tuning on the same data.",
    "remedy": "Anti-forgetting remedy arm (config key `remedies`); `none` = no remedy.",
    "size": "Number of debiasing examples, or `full`.",
    "size_n": "`size` as an integer; null for `full`.",
    "seed": "Fine-tuning seed.",
    "checkpoint_hash": "Content hash of the fine-tuned checkpoint (manifest `content_hash`).",
    "base_hash": "Content hash of the base model the run started from.",
}

GROUPS = {
    "overall_forgetting": "Overall forgetting: loss of general language-modelling ability on held-out general text "
    "relative to the base model (larger = more forgetting)",
    "selective_forgetting": "Selective forgetting: loss of the stereotypical association on stereotype probes "
    "relative to the base model",
    "crows_pairs": "CrowS-Pairs (gender) bias",
    "stereoset": "StereoSet (gender) bias",
    "planted": "Planted toy stereotype bias (held-out templates)",
    "winobias": "WinoBias (test) pro- vs anti-stereotypical preference",
    "trajectory": "Training-trajectory statistic reported by the evaluation stage",
    "trajectory_forgetting": "Forgetting events along training (Toneva et al. 2019), from the evaluation stage",
    "seat": "SEAT embedding association test",
    "probe_trajectory": "Computed here from trajectory.parquet: events between consecutive recorded probe steps "
    "(forgetting event = correct then incorrect)",
    "downstream": "Downstream (GLUE subset) score",
    "training": "Fine-tuning record (training/RUN/train_summary.json)",
}

STATISTICS = {
    # forgetting statistics (fairforget.metrics.forgetting; docs/metrics.md has the formulas)
    "mean_loss_change": "mean per-example loss change, tuned minus base",
    "base_mean_loss": "mean per-example loss of the base model",
    "tuned_mean_loss": "mean per-example loss of the tuned model",
    "base_perplexity": "perplexity of the base model (pseudo-perplexity for masked LMs)",
    "tuned_perplexity": "perplexity of the tuned model (pseudo-perplexity for masked LMs)",
    "base_token_accuracy": "top-1 token accuracy of the base model",
    "tuned_token_accuracy": "top-1 token accuracy of the tuned model",
    "token_forgetting_rate": "share of tokens the base model predicted correctly and the tuned model does not",
    "token_forgotten_count": "number of tokens forgotten (base correct, tuned wrong)",
    "token_learning_rate": "share of tokens the base model got wrong and the tuned model gets right",
    "token_learned_count": "number of tokens learned",
    "example_forgetting_rate": "share of base-correct examples that are no longer correct",
    "example_forgotten_count": "number of examples forgotten",
    # selective forgetting and pair bias
    "stereo_minus_anti_loss_change": "mean over pairs of (stereotypical minus anti-stereotypical sentence loss "
    "change); > 0 = the stereotype was forgotten more",
    "flips_to_anti_rate": "share of base-stereotypical pairs no longer preferred stereotypically",
    "flips_to_anti_count": "number of pairs flipped to the anti-stereotypical preference",
    "flips_to_stereo_rate": "share of base-non-stereotypical pairs now preferred stereotypically",
    "flips_to_stereo_count": "number of pairs flipped to the stereotypical preference",
    "stereo_preference": "percentage of pairs where the stereotypical sentence scores higher (50 = no bias)",
    "logprob_gap": "mean log-probability of the stereotypical minus the anti-stereotypical sentence",
    # trajectory
    "forgetting_events": "number of forgetting events (lower bound: only recorded steps are compared)",
    "learning_events": "number of learning events (incorrect then correct)",
    "fraction_correct_start": "fraction of probe items correct at the first recorded step",
    "fraction_correct_end": "fraction of probe items correct at the last recorded step",
    "n_items": "number of probe items",
    "mean_change": "mean over tasks (WNLI left out, as in the GLUE baselines) of the change (tuned - base) in each "
    "task's primary metric",
    "mean": "mean over tasks (WNLI left out) of the tuned model's primary metric",
    "mean_base": "mean over tasks (WNLI left out) of the base model's primary metric",
    "n_debias_texts": "number of debiasing texts the run trained on (its data size; `full` = the whole corpus)",
}

SUFFIXES = {
    "ci_low": "lower end of the 95% CI reported by the producing stage",
    "ci_high": "upper end of the 95% CI reported by the producing stage",
    "n": "number of items behind the estimate",
    "base": "value for the base model",
    "change": "tuned minus base",
    "n_seeds": "number of downstream seeds averaged",
}


def _statistic(core: list[str]) -> str:
    name = ".".join(core)
    if name in STATISTICS:
        return STATISTICS[name]
    # selective forgetting: `stereo_<s>` / `anti_<s>` = forgetting statistic s on one side of the pairs
    for side, words in (("stereo_", "stereotypical"), ("anti_", "anti-stereotypical")):
        if name.startswith(side) and name[len(side) :] in STATISTICS:
            return f"{STATISTICS[name[len(side) :]]}, on the {words} sentences"
    return f"`{name}`"


def describe(column: str) -> str:
    if column in IDENTITY:
        return IDENTITY[column]
    parts = column.split(".")
    group = parts[0]
    suffix = parts[-1] if len(parts) > 2 and parts[-1] in SUFFIXES else None
    core = parts[1:-1] if suffix else parts[1:]
    text = GROUPS.get(group, f"Metric group `{group}`")
    if group == "downstream" and len(core) >= 2:
        text += f", task `{core[0]}`, metric `{'.'.join(core[1:])}` (mean over downstream seeds)"
    elif group == "downstream" and core == ["n_seeds"]:
        pass
    elif core:
        text += f": {_statistic(core)}"
    if suffix:
        text += f"; {SUFFIXES[suffix]}"
    return text + "."


def data_dictionary(frame: pl.DataFrame, notes: list[str]) -> str:
    lines = [
        "# Data dictionary: tables/runs.parquet (and runs.csv)",
        "",
        f"One row per fine-tuning run; {frame.height} rows, {frame.width} columns.",
        "",
    ]
    lines += [f"- {note}" for note in notes]
    lines += ["", "| column | type | non-null | description |", "|---|---|---|---|"]
    for name, dtype in frame.schema.items():
        non_null = frame.height - frame[name].null_count()
        lines.append(f"| `{name}` | {dtype} | {non_null} | {describe(name)} |")
    return "\n".join(lines) + "\n"
