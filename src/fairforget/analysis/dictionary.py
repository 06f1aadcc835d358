"""Descriptions of the tidy table's columns, for `data_dictionary.md`, and the names and units figures give them.

Descriptions are composed from the metric name: a known description of the group and statistic where we have
one, otherwise the name itself, plus what the column suffix (`.ci_low`, `.base`, `.change`, ...) means. Labels
(`label`) are composed the same way: a plain-language name of the group, what the statistic measures, its unit
(docs/metrics.md defines each statistic and its unit).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import polars as pl

IDENTITY = {
    "run_id": "Readable run id: model__objective__remedy__size__seed<seed>.",
    "model": "Base model name (config key `models`).",
    "objective": "Debiasing objective arm (config key `objectives`); `none` is plain fine-tuning on the same data.",
    "remedy": "Anti-forgetting remedy arm (config key `remedies`); `none` = no remedy.",
    "size": "Number of debiasing examples, or `full`.",
    "size_n": "`size` as an integer; null for `full` and for a percentage of the corpus (`10pct`).",
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
    "truncated_items": "items (pairs, StereoSet clusters) of which a text was cut by evaluation.max_length",
    "paired_change": "tuned minus base percentage preferring the stereotype, CI from a paired bootstrap over pairs",
    "ss_paired_change": "tuned minus base SS, CI from a paired bootstrap over clusters",
    "flips_to_anti": "items preferring the stereotype under the base model and not under the tuned one",
    "flips_to_stereo": "items not preferring the stereotype under the base model and preferring it under the tuned one",
    "mcnemar_p": "exact two-sided McNemar p-value of the flips (no change in the share preferring the stereotype)",
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

# Plain-language names of the metric groups, for figure labels.
GROUP_NAMES = {
    "overall_forgetting": "Overall forgetting",
    "selective_forgetting": "Selective forgetting",
    "crows_pairs": "CrowS-Pairs bias",
    "stereoset": "StereoSet bias",
    "planted": "Planted stereotype",
    "winobias": "WinoBias bias",
    "trajectory": "Training trajectory",
    "trajectory_forgetting": "Forgetting during training",
    "seat": "SEAT bias",
    "probe_trajectory": "Training probe",
    "downstream": "Downstream",
    "training": "Fine-tuning",
}

NATS = "nats/token"
FRACTION = "fraction"
COUNT = "count"
GLUE_UNIT = "primary metric, 0–1"
# statistic -> (what it measures, unit); units as docs/metrics.md defines them ("" = dimensionless).
STATISTIC_LABELS = {
    "mean_loss_change": ("Δ mean loss, tuned − base", NATS),
    "base_mean_loss": ("base model's mean loss", NATS),
    "tuned_mean_loss": ("tuned model's mean loss", NATS),
    "base_perplexity": ("base model's perplexity", ""),
    "tuned_perplexity": ("tuned model's perplexity", ""),
    "base_token_accuracy": ("base model's top-1 token accuracy", FRACTION),
    "tuned_token_accuracy": ("tuned model's top-1 token accuracy", FRACTION),
    "token_forgetting_rate": ("tokens forgotten", "fraction of base-correct tokens"),
    "token_forgotten_count": ("tokens forgotten", COUNT),
    "token_learning_rate": ("tokens learned", "fraction of base-wrong tokens"),
    "token_learned_count": ("tokens learned", COUNT),
    "example_forgetting_rate": ("examples forgotten", "fraction of base-correct examples"),
    "example_forgotten_count": ("examples forgotten", COUNT),
    "mean_kl": ("mean KL(base ‖ tuned)", NATS),
    "stereo_minus_anti_loss_change": ("Δ loss, stereotypical − anti-stereotypical", NATS),
    "flips_to_anti_rate": ("stereotypical preferences lost", "fraction of pairs"),
    "flips_to_anti_count": ("stereotypical preferences lost", "pairs"),
    "flips_to_stereo_rate": ("preferences turned stereotypical", "fraction of pairs"),
    "flips_to_stereo_count": ("preferences turned stereotypical", "pairs"),
    "stereo_preference": ("stereotype preference", "% of pairs, 50 = none"),
    "logprob_gap": ("log-probability gap, stereotypical − anti", "nats"),
    "ss": ("stereotype score SS", "%, 50 = none"),
    "lms": ("language-modelling score LMS", "%"),
    "icat": ("ICAT score", "0–100"),
    "mean_abs_effect_size": ("mean |effect size d|", "SD units"),
    "forgetting_events": ("forgetting events", COUNT),
    "learning_events": ("learning events", COUNT),
    "fraction_correct_start": ("fraction correct at the first probe", FRACTION),
    "fraction_correct_end": ("fraction correct at the last probe", FRACTION),
    "n_items": ("probe items", COUNT),
    "mean_change": ("mean change over tasks, tuned − base", GLUE_UNIT),
    "mean": ("mean over tasks, tuned model", GLUE_UNIT),
    "mean_base": ("mean over tasks, base model", GLUE_UNIT),
    "n_seeds": ("downstream seeds", COUNT),
    "n_debias_texts": ("debiasing texts", COUNT),
}
# Statistics named with a variable part: (pattern, what it measures, unit); the pattern's group fills `{}`.
PATTERN_LABELS = (
    (r"effect_size_(\w+)", "effect size d, {}", "SD units"),
    (r"p_value_(\w+)", "permutation p-value, {}", "probability"),
    (r"(\w+)_never_learned_fraction", "never-learned items, {}", FRACTION),
    (r"(\w+)_unforgettable_fraction", "unforgettable items, {}", FRACTION),
    (r"(\w+)_forgettable_fraction", "forgettable items, {}", FRACTION),
    (r"(\w+)_mean_forgetting_events", "forgetting events per learned item, {}", COUNT),
    (r"(\w+)_mean_first_learned_step", "first step correct, {}", "optimizer steps"),
    (r"(\w+)_mean_first_learned_progress", "first step correct, {}", "fraction of the run"),
    (r"(\w+)_recorded_steps", "recorded probe steps, {}", COUNT),
    (r"ss_paired_change_(\w+)", "SS change tuned − base, target {}", "points of SS"),
    (r"mcnemar_p_(\w+)", "McNemar p of the flips, target {}", "probability"),
)
# The columns the figures plot most, named as a reader says them.
COLUMN_LABELS = {
    "overall_forgetting.mean_loss_change": ("Overall forgetting", "Δ held-out loss, tuned − base", NATS),
    "downstream.mean_change": ("Downstream change", "tuned − base, mean over tasks", GLUE_UNIT),
    "selective_forgetting.stereo_minus_anti_loss_change": (
        "Selective forgetting",
        "Δ loss, stereotypical − anti-stereotypical",
        NATS,
    ),
}

# The bias groups scored under several conventions: which one their plain columns follow (docs/metrics.md §5.1).
CONVENTION_GROUPS = {
    "crows_pairs": "scored under the configured default convention (masked LMs: `metric_py`, CrowS-Pairs' metric.py; "
    "causal LMs: `evaluation.causal_pair_score`, `mean` = `one_pass_mean`, `sum` = `lm_eval`); metrics.json "
    "`conventions` names each",
    "stereoset": "scored under the shared pass's convention (masked LMs: `bias_bench`; causal LMs: `one_pass`)",
}
DEFAULT_CONVENTION_STATISTICS = ("stereo_preference", "logprob_gap", "ss", "lms", "icat")

SUFFIXES = {
    "ci_low": "lower end of the 95% CI reported by the producing stage",
    "ci_high": "upper end of the 95% CI reported by the producing stage",
    "n": "number of items behind the estimate",
    "base": "value for the base model",
    "change": "tuned minus base",
    "n_seeds": "number of downstream seeds averaged",
}


# Statistics per StereoSet target term (docs/metrics.md §5.2): (pattern, description); the target fills `{}`.
TARGET_STATISTICS = (
    (r"ss_paired_change_(\w+)", "tuned minus base SS over the clusters of target term `{}`, CI from a paired "
     "bootstrap over those clusters"),
    (r"mcnemar_p_(\w+)", "exact two-sided McNemar p-value of the flips among target term `{}`'s clusters"),
)  # fmt: skip


def _known(statistic: str) -> str | None:
    """The description of a statistic's name, fixed or per StereoSet target term."""
    if statistic in STATISTICS:
        return STATISTICS[statistic]
    for pattern, text in TARGET_STATISTICS:
        match = re.fullmatch(pattern, statistic)
        if match:
            return text.format(match.group(1))
    return None


def _statistic(core: list[str]) -> str:
    name = ".".join(core)
    known = _known(name)
    if known is not None:
        return known
    if len(core) == 2 and _known(core[1]) is not None:  # `<group>.<convention>.<statistic>` (docs/metrics.md §5.1)
        return f"{_known(core[1])}, scored under the convention `{core[0]}` (docs/metrics.md §5.1)"
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
        if group in CONVENTION_GROUPS and len(core) == 1 and core[0] in DEFAULT_CONVENTION_STATISTICS:
            text += f", {CONVENTION_GROUPS[group]}"
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
    lines += ["", "| column | type | non-null | unit | description |", "|---|---|---|---|---|"]
    for name, dtype in frame.schema.items():
        non_null = frame.height - frame[name].null_count()
        lines.append(f"| `{name}` | {dtype} | {non_null} | {label(name).unit} | {describe(name)} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ColumnLabel:
    """How a figure names a column of the tidy table: a plain-language name, what exactly it measures, its unit
    ("" = dimensionless), and the column itself (for traceability, in small type)."""

    column: str
    name: str
    detail: str = ""
    unit: str = ""

    @property
    def axis(self) -> str:
        """Two lines: the name, then what it measures and the unit, e.g. "Overall forgetting" /
        "Δ held-out loss, tuned − base (nats/token)"."""
        return self.wrapped(1000)

    def wrapped(self, width: int) -> str:
        """`axis` with each line wrapped at `width` characters."""
        second = " ".join(p for p in (self.detail, f"({self.unit})" if self.unit else "") if p)
        lines = [self.name] + ([second] if second else [])
        return "\n".join(textwrap.fill(line, width) for line in lines)

    @property
    def short(self) -> str:
        """One line: "Overall forgetting (nats/token)"."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


def _statistic_label(core: list[str]) -> tuple[str, str]:
    name = ".".join(core)
    if name in STATISTIC_LABELS:
        return STATISTIC_LABELS[name]
    if len(core) == 2 and core[1] in STATISTIC_LABELS:  # a scoring convention's column
        detail, unit = STATISTIC_LABELS[core[1]]
        return f"{detail} ({core[0]})", unit
    if len(core) == 2 and any(re.fullmatch(p, core[1]) for p, _ in TARGET_STATISTICS):  # a convention's, per target
        detail, unit = _statistic_label(core[1:])
        return f"{detail} ({core[0]})", unit
    for side, words in (("stereo_", "stereotypical"), ("anti_", "anti-stereotypical")):
        if name.startswith(side) and name[len(side) :] in STATISTIC_LABELS:
            detail, unit = STATISTIC_LABELS[name[len(side) :]]
            return f"{detail}, {words} sentences", unit
    for pattern, detail, unit in PATTERN_LABELS:
        match = re.fullmatch(pattern, name)
        if match:
            return detail.format(match.group(1)), unit
    return name.replace("_", " "), ""


def label(column: str) -> ColumnLabel:
    """The figure label of a column (the same composition as `describe`, in a few words and a unit)."""
    if column in COLUMN_LABELS:
        return ColumnLabel(column, *COLUMN_LABELS[column])
    if column in IDENTITY:
        return ColumnLabel(column, column.replace("_", " ").capitalize())
    parts = column.split(".")
    group = parts[0]
    suffix = parts[-1] if len(parts) > 2 and parts[-1] in SUFFIXES else None
    core = parts[1:-1] if suffix else parts[1:]
    name = GROUP_NAMES.get(group, group.replace("_", " ").capitalize())
    if group == "downstream" and len(core) >= 2:
        name, detail, unit = f"Downstream: {core[0]}", ".".join(core[1:]), "0–1"
    elif group == "probe_trajectory" and len(core) >= 2:
        name = f"{name}: {core[0]} items"
        detail, unit = _statistic_label(core[1:])
    elif core:
        detail, unit = _statistic_label(core)
    else:
        detail, unit = "", ""
    if suffix == "change":
        detail += ", change tuned − base"
    elif suffix == "base":
        detail += ", base model"
    elif suffix in ("ci_low", "ci_high"):
        detail += f", {SUFFIXES[suffix].split(' reported')[0]}"
    elif suffix in ("n", "n_seeds"):
        detail, unit = SUFFIXES[suffix], COUNT
    return ColumnLabel(column, name, detail.strip(", "), unit)
