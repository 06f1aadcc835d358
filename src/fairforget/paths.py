"""The run and result layout: where every stage writes under the results dir R (config `results_dir`).

The single source of the layout. The rules (rules/*.smk) build their input and output patterns from these
templates, the analysis and provenance find and classify result files with `classify`, and
docs/ARCHITECTURE.md shows the same table. A template is a path relative to R with Snakemake-style wildcards
`{model}`, `{objective}`, `{remedy}`, `{size}`, `{seed}` (a fine-tuning run, `RUN`), `{task}` and `{dseed}`
(a downstream task and seed); `under(R, template, **fields)` fills in R and the given fields and leaves the
others as wildcards. A new product (e.g. fused checkpoints) is one template here plus, if the analysis or
provenance must recognise it, one entry in `CONTRACT_FILES`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fairforget.errors import DataError

# A fine-tuning run: model x objective x remedy x data size ("full", a number of examples or a percentage of the
# debiasing corpus such as "10pct", fairforget.data.sizes) x seed.
RUN_FIELDS = ("model", "objective", "remedy", "size", "seed")
RUN = "{model}/{objective}/{remedy}/{size}/seed{seed}"

# ---- stage 1: prepared data
GENERAL_PRETRAIN = "data/general/pretrain.jsonl"  # toy pretraining text (WikiText-2 valid)
GENERAL_HELDOUT = "data/general/heldout.jsonl"  # held-out general text (WikiText-2 test)
GENERAL_META = "data/general/meta.json"
PLANTED_CORPUS = "data/stereotype/planted.jsonl"  # the toy's planted stereotype corpus
PLANTED_TRAIN_PAIRS = "data/stereotype/train_pairs.jsonl"
PLANTED_META = "data/stereotype/meta.json"
PROBES_PLANTED = "data/probes/planted.jsonl"  # probe pairs (evaluation only) ...
PROBES_CROWS_PAIRS = "data/probes/crows_pairs.jsonl"
PROBES_WINOBIAS = "data/probes/winobias.jsonl"
PROBES_STEREOSET = "data/probes/stereoset.jsonl"
PROBES_META = "data/probes/meta.json"
PROBES = "data/probes/{name}.jsonl"  # any probe set by name
DEBIAS_SOURCE = "data/debias/source.arrow"  # debiasing corpus (unaugmented), an Arrow text table
DEBIAS_REPLAY = "data/debias/replay.arrow"  # general text replayed during debiasing (data.general.replay_corpus)
DEBIAS_PAIRS = "data/debias/pairs.jsonl"  # stereotype training pairs
DEBIAS_WORD_PAIRS = "data/debias/word_pairs.json"  # gender word pairs for CDA
DEBIAS_META = "data/debias/meta.json"
LEAKAGE_CARD_JSON = "data/leakage_card.json"  # training/evaluation separation check (data card)
LEAKAGE_CARD_MD = "data/leakage_card.md"
DOWNSTREAM_TRAIN = "data/downstream/{task}/train.jsonl"
DOWNSTREAM_DEV = "data/downstream/{task}/dev.jsonl"
DOWNSTREAM_META = "data/downstream/{task}/meta.json"

# ---- stage 2: base models; stage 3: fine-tuned checkpoints and their training records
BASE_MODEL = "models/base/{model}"
BASE_SIDECAR = "models/base/{model}.sha256"
BASE_MANIFEST = "models/base/{model}/manifest.json"
FINETUNED_MODEL = f"models/finetuned/{RUN}"
FINETUNED_SIDECAR = f"models/finetuned/{RUN}.sha256"
FINETUNED_MANIFEST = f"models/finetuned/{RUN}/manifest.json"
TRAJECTORY = f"training/{RUN}/trajectory.parquet"
TRAIN_SUMMARY = f"training/{RUN}/train_summary.json"
TRAINING_STATE = f"training/{RUN}/state"  # resumable state; not a rule output, so it survives a failed job

# The prepared data a fine-tuning run reads, by role (fairforget.training.job.FinetuneData): recorded with their
# hashes in the checkpoint's manifest, in this order.
FINETUNE_DATA: Mapping[str, str] = {
    "source": DEBIAS_SOURCE,
    "pairs": DEBIAS_PAIRS,
    "word_pairs": DEBIAS_WORD_PAIRS,
    "replay": DEBIAS_REPLAY,
}

# What a toy base model is pretrained on (the `toy` source, rules/base_models.smk), in this order.
PRETRAIN_DATA = (GENERAL_PRETRAIN, PLANTED_CORPUS)

# ---- stage 4: evaluation; stage 5: downstream
EVAL_BASE_SCORES = "eval/base/{model}/scores"
EVAL_BASE = "eval/base/{model}/metrics.json"
EVAL_FINETUNED_SCORES = f"eval/finetuned/{RUN}/scores"
EVAL_FINETUNED = f"eval/finetuned/{RUN}/metrics.json"
DOWNSTREAM_BASE = "downstream/base/{model}/{task}/seed{dseed}.json"
DOWNSTREAM_FINETUNED = f"downstream/finetuned/{RUN}/{{task}}/seed{{dseed}}.json"

# ---- stage 6: analysis
TABLE_PARQUET = "tables/runs.parquet"
TABLE_CSV = "tables/runs.csv"
DATA_DICTIONARY = "tables/data_dictionary.md"
TABLE_PROVENANCE = "tables/runs.provenance.json"
FINDINGS = "findings.md"
FINDINGS_PROVENANCE = "findings.provenance.json"
FIGURE = "figures/{name}.{ext}"
FIGURE_PROVENANCE = "figures/{name}.provenance.json"

# ---- every rule: its log and Snakemake benchmark file (`benchmarks/` at the repo root holds benchmark scripts)
LOG = "logs/{rule}/{job}.log"
BENCHMARK = "benchmarks/{rule}/{job}.tsv"

_FIELD = re.compile(r"\{(\w+)\}")


def under(results_dir: str | Path, template: str, **fields: Any) -> str:
    """`results_dir/template` with the given wildcard fields filled in and every other one left as a wildcard."""
    text = f"{results_dir}/{template}"
    return _FIELD.sub(lambda m: str(fields[m.group(1)]) if m.group(1) in fields else m.group(0), text)


@dataclass(frozen=True)
class Run:
    """A fine-tuning run's identity (`RUN_FIELDS`), the one shape of it in the grid, the rules and training."""

    model: str
    objective: str
    remedy: str
    size: str  # "full", a positive integer as text, or a percentage label such as "10pct" (data.sizes.size_label)
    seed: int

    @classmethod
    def of(cls, fields: Any) -> Run:
        """The run named by a mapping or an object with the run's fields (Snakemake's wildcards, a manifest's
        `run`); the seed as an int."""
        values = {name: fields[name] if isinstance(fields, Mapping) else getattr(fields, name) for name in RUN_FIELDS}
        return cls(
            str(values["model"]),
            str(values["objective"]),
            str(values["remedy"]),
            str(values["size"]),
            int(values["seed"]),
        )

    @property
    def path(self) -> str:
        """Path fragment used under every stage's results folder."""
        return run_path(self.model, self.objective, self.remedy, self.size, self.seed)

    @property
    def run_id(self) -> str:
        return run_id(self.path)

    def wildcards(self) -> dict[str, Any]:
        """The run as a plain dict (templates' fields; recorded in manifests and results)."""
        return asdict(self)

    @property
    def size_limit(self) -> int | None:
        """The size as a number of texts; None for `full` and for a fraction (resolved against the corpus by
        `resolve_size` once the corpus exists)."""
        return int(self.size) if self.size.isdigit() else None


def run_path(model: str, objective: str, remedy: str, size: str, seed: int | str) -> str:
    """The path fragment of a run, used under every stage's folder."""
    return RUN.format(model=model, objective=objective, remedy=remedy, size=size, seed=seed)


def run_id(run_fragment: str) -> str:
    """The readable run id: the run's path fragment with `/` replaced by `__`."""
    return run_fragment.replace("/", "__")


def log_file(results_dir: str | Path, rule: str, job: str) -> str:
    return under(results_dir, LOG, rule=rule, job=job)


def benchmark_file(results_dir: str | Path, rule: str, job: str) -> str:
    return under(results_dir, BENCHMARK, rule=rule, job=job)


# ------------------------------------------------------------------------------------ recognising result files
# kind -> template of the files the analysis and provenance recognise by their path.
CONTRACT_FILES: dict[str, str] = {
    "eval_finetuned": EVAL_FINETUNED,
    "eval_base": EVAL_BASE,
    "downstream_finetuned": DOWNSTREAM_FINETUNED,
    "downstream_base": DOWNSTREAM_BASE,
    "trajectory": TRAJECTORY,
    "train_summary": TRAIN_SUMMARY,
    "finetuned_sidecar": FINETUNED_SIDECAR,
    "finetuned_manifest": FINETUNED_MANIFEST,
    "base_sidecar": BASE_SIDECAR,
    "base_manifest": BASE_MANIFEST,
    "downstream_meta": DOWNSTREAM_META,
}
# What each wildcard matches, in a path and in the rules (common.smk's wildcard_constraints are these).
_NAME = r"[A-Za-z0-9._-]+"  # a config entry's name (models, objectives, remedies)
FIELD_PATTERNS: Mapping[str, str] = {
    "model": _NAME,
    "objective": _NAME,
    "remedy": _NAME,
    "size": r"full|[0-9]+|[0-9]+(?:\.[0-9]+)?pct",
    "seed": "[0-9]+",
    "task": r"[A-Za-z0-9_-]+",
    "dseed": "[0-9]+",
}


def template_regex(template: str) -> re.Pattern[str]:
    """A regex matching the end of a posix path against `template`; group `root` is R (may be absent)."""
    pattern = ""
    position = 0
    for match in _FIELD.finditer(template):
        pattern += re.escape(template[position : match.start()])
        name = match.group(1)
        pattern += f"(?P<{name}>{FIELD_PATTERNS.get(name, '[^/]+')})"
        position = match.end()
    pattern += re.escape(template[position:])
    return re.compile(rf"^(?:(?P<root>.*)/)?{pattern}$")


PATTERNS: dict[str, re.Pattern[str]] = {kind: template_regex(template) for kind, template in CONTRACT_FILES.items()}


@dataclass(frozen=True)
class PathInfo:
    """A recognised result file: its kind, the results dir it lies in, and its wildcard fields."""

    kind: str
    root: Path
    fields: dict[str, str]

    @property
    def run(self) -> Run | None:
        """The run the file belongs to (None for a base-model or data file)."""
        return None if "objective" not in self.fields else Run.of(self.fields)

    @property
    def run_key(self) -> tuple[str, str, str, str, int] | None:
        if "objective" not in self.fields:
            return None
        f = self.fields
        return (f["model"], f["objective"], f["remedy"], f["size"], int(f["seed"]))

    @property
    def run_path(self) -> str | None:
        key = self.run_key
        return None if key is None else run_path(*key)


def classify(path: str | Path) -> PathInfo | None:
    """Which contract file `path` is (None if none)."""
    text = Path(path).as_posix()
    for kind, pattern in PATTERNS.items():
        match = pattern.match(text)
        if match:
            groups = match.groupdict()
            root = Path(groups.pop("root") or ".")
            return PathInfo(kind=kind, root=root, fields={k: v for k, v in groups.items() if v is not None})
    return None


def manifest_for(info: PathInfo) -> Path:
    """The checkpoint (or base) manifest that a run-level (or base-level) file depends on."""
    if info.run_key is not None:
        return info.root / FINETUNED_MANIFEST.format(**dict(zip(RUN_FIELDS, info.run_key)))
    if "model" in info.fields:
        return info.root / BASE_MANIFEST.format(model=info.fields["model"])
    raise DataError(f"{info.kind}: no model or run in the path, so no manifest")
