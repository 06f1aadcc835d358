"""Stage 3: one debiasing fine-tuning run (objective x remedy x data size x seed) on a base model.

Writes the fine-tuned model dir (manifest last, with parent_hash = the base's content hash), the probe
trajectory (`trajectory.parquet`, see ARCHITECTURE.md) and a training summary JSON.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fairforget.code_identity import fingerprint_of
from fairforget.data.sizes import resolve_size
from fairforget.errors import ConfigError
from fairforget.hashing import sha256_file
from fairforget.io import read_json, read_jsonl, write_json
from fairforget.models.modeldir import MANIFEST, load_model_dir, save_model_dir
from fairforget.training.engine import Engine, ProbeFn, TrainSettings, train_with_plugins
from fairforget.training.examples import TextColumn, seeded_permutation
from fairforget.training.packing import PACKED_BLOCKS
from fairforget.training.plugins import OBJECTIVES, REMEDIES, TrainingContext
from fairforget.training.state import clear_state

log = logging.getLogger(__name__)

SOURCE = "debias/source.arrow"
PAIRS = "debias/pairs.jsonl"
WORD_PAIRS = "debias/word_pairs.json"
REPLAY = "debias/replay.arrow"
PROBE_GENERAL = "general/heldout.jsonl"
PROBE_PAIRS = "probes/planted.jsonl"
DEFAULT_MAX_LENGTH = 64
TRAJECTORY_SCHEMA = {"step": "Int64", "probe_set": "String", "item_id": "String", "correct": "Boolean"}


def subset_indices(n_texts: int, size: str | int, seed: int) -> np.ndarray:
    """The run's debiasing texts as positions in the corpus: a seeded shuffle cut to `size` ("full" keeps all,
    shuffled); 8 bytes per text (`seeded_permutation`)."""
    order = seeded_permutation(n_texts, seed)
    if str(size) == "full":
        return order
    limit = int(resolve_size(size, n_texts))  # a percentage label ("10pct") counts texts of this corpus
    if limit <= 0:
        raise ConfigError(f"config key 'data_sizes': size must be positive, got {size!r}")
    if limit > n_texts:
        raise ConfigError(f"config key 'data_sizes': size {limit} exceeds the {n_texts} texts of the debiasing corpus")
    return order[:limit]


def subset_texts(texts: list[str], size: str | int, seed: int) -> list[str]:
    """The run's debiasing texts of an in-memory corpus (`subset_indices`)."""
    return [texts[i] for i in subset_indices(len(texts), size, seed).tolist()]


def subset_pairs(pairs: list[tuple[str, str]], size: str | int, seed: int) -> list[tuple[str, str]]:
    """The run's stereotype training pairs under the data-size axis: "full" keeps all; an integer size keeps a
    seeded sample of `size` pairs (in file order), so an objective trained on pairs (`unlikelihood`) sees as
    many pairs as the run's size, as text objectives see that many texts. A size above the number of pairs
    keeps them all (logged), as the size is checked against the text corpus (`subset_texts`)."""
    if str(size) == "full":
        return list(pairs)
    limit = int(resolve_size(size, len(pairs)))
    if limit <= 0:
        raise ConfigError(f"config key 'data_sizes': size must be positive, got {size!r}")
    if limit >= len(pairs):
        if limit > len(pairs):
            log.warning("data size %d exceeds the %d stereotype training pairs; all pairs are used", limit, len(pairs))
        return list(pairs)
    # a seed stream of its own (str seeds hash with sha512: stable across processes), independent of the texts'
    chosen = sorted(random.Random(f"pairs:{seed}").sample(range(len(pairs)), limit))
    return [pairs[i] for i in chosen]


def read_word_pairs(path: Path) -> list[tuple[str, str]]:
    from fairforget.data.cda import read_word_pairs_json

    return list(read_word_pairs_json(path))


def build_context(
    data_dir: Path, kind: str, tokenizer: Any, run: Mapping[str, Any], max_length: int, mlm_probability: float
) -> TrainingContext:
    """The TrainingContext of a run from the prepared data files (paths as in ARCHITECTURE.md).

    The debiasing and general texts are memory-mapped text tables (`TextColumn`): the run's subset is an index
    array, so the context costs 8 bytes per debiasing text whatever the corpus size."""
    seed = int(run["seed"])
    corpus = TextColumn(data_dir / SOURCE)
    pairs = [(str(r["stereo"]), str(r["anti"])) for r in read_jsonl(data_dir / PAIRS, required=("stereo", "anti"))]
    return TrainingContext(
        kind=kind,
        tokenizer=tokenizer,
        seed=seed,
        max_length=max_length,
        debias_texts=TextColumn(data_dir / SOURCE, subset_indices(len(corpus), run["size"], seed)),
        stereo_pairs=subset_pairs(pairs, run["size"], seed),
        word_pairs=read_word_pairs(data_dir / WORD_PAIRS),
        general_texts=TextColumn(data_dir / REPLAY),
        mlm_probability=mlm_probability,
    )


def make_probe_fn(
    data_dir: Path, tokenizer: Any, kind: str, probe_cfg: Mapping[str, Any], max_length: int
) -> ProbeFn | None:
    """The probe callback (held-out general tokens + stereotype pairs), or None when probing is disabled.

    probe_cfg keys: enabled (True), max_examples (50; first N texts and first N pairs), batch_size (32),
    max_length (training max_length), general (general/heldout.jsonl), pairs (probes/planted.jsonl),
    causal_pair_score ("mean"; the evaluation's `causal_pair_score`, so a pair is "correct" during training
    exactly when the evaluation's pair preference would say so).
    """
    if not probe_cfg.get("enabled", True):
        return None
    from fairforget.scoring.pairs import pair_scoring  # lazy: the scoring stack is heavy
    from fairforget.scoring.probe import record_probe_correctness

    limit = int(probe_cfg.get("max_examples", 50))
    general = read_jsonl(data_dir / probe_cfg.get("general", PROBE_GENERAL), required=("id", "text"))[:limit]
    pairs_path = Path(probe_cfg.get("pairs", PROBE_PAIRS))
    pairs = read_jsonl(data_dir / pairs_path, required=("id", "stereo", "anti"))[:limit]
    # the probe file's stem is its pair set ("planted", "winobias"): scored as the evaluation scores that set
    scoring = pair_scoring(kind, pairs_path.stem, str(probe_cfg.get("causal_pair_score", "mean")))
    batch_size = int(probe_cfg.get("batch_size", 32))
    probe_length = int(probe_cfg.get("max_length", max_length))

    def probe(model: torch.nn.Module, step: int) -> list[dict[str, Any]]:
        return record_probe_correctness(
            model, tokenizer, kind, general, pairs, batch_size, probe_length, step=step, scoring=scoring
        )

    return probe


def write_trajectory(path: str | Path, rows: list[dict[str, Any]]) -> None:
    import polars as pl

    schema = {name: getattr(pl, dtype) for name, dtype in TRAJECTORY_SCHEMA.items()}
    frame = pl.DataFrame([{k: row[k] for k in TRAJECTORY_SCHEMA} for row in rows], schema=schema, orient="row")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.write_parquet(tmp)
    tmp.replace(path)


def packing_summary(ctx: TrainingContext) -> dict[str, int] | None:
    """What a packed run trained on (None when unpacked): blocks, their length, the texts' tokens, dropped."""
    blocks = ctx.extra.get(PACKED_BLOCKS)
    if blocks is None:
        return None
    return {
        "blocks": blocks.n_blocks,
        "block_size": blocks.block_size,
        "texts": blocks.n_texts,
        "corpus_tokens": blocks.corpus_tokens,
        "dropped_tokens": blocks.dropped_tokens,
    }


def run_finetune(
    base_dir: str | Path,
    data_dir: str | Path,
    run: Mapping[str, Any],
    objective_cfg: Mapping[str, Any],
    remedy_cfg: Mapping[str, Any],
    train_cfg: Mapping[str, Any],
    out_dir: str | Path,
    state_dir: str | Path | None,
    trajectory_path: str | Path,
    summary_path: str | Path,
    probe_cfg: Mapping[str, Any] | None = None,
    *,
    probe_fn: ProbeFn | None = None,
    stop_after_steps: int | None = None,
    code: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fine-tune the base model for one run and save it; returns the new manifest.

    `train_cfg` is the `training:` section (merged with `models.<name>.training`); besides TrainSettings keys
    it may set max_length (64) and mlm_probability (0.15). `probe_fn` overrides the probe callback built from
    `probe_cfg` (tests); `stop_after_steps` simulates preemption (tests); `code` is the job's code identity
    (fairforget.workflow.code_params), recorded in the manifest and summary. Weights are trained in float32
    (mixed precision only autocasts the forward pass).
    """
    base_dir, data_dir, out_dir = Path(base_dir), Path(data_dir), Path(out_dir)
    # A stale manifest must never vouch for a checkpoint this run has not finished.
    (out_dir / MANIFEST).unlink(missing_ok=True)
    base = load_model_dir(base_dir)
    model, tokenizer, kind = base.model, base.tokenizer, base.kind
    if next(model.parameters()).dtype != torch.float32:
        model = model.float()
    max_length = int(train_cfg.get("max_length", DEFAULT_MAX_LENGTH))
    settings = TrainSettings.from_config(train_cfg, seed=int(run["seed"]))
    engine = Engine(settings)
    ctx = build_context(data_dir, kind, tokenizer, run, max_length, float(train_cfg.get("mlm_probability", 0.15)))
    # Constructing a plug-in validates its params; errors name the config entry.
    objective = OBJECTIVES.get(objective_cfg["type"], key=f"objectives.{run['objective']}.type")(
        config_key=f"objectives.{run['objective']}", **dict(objective_cfg.get("params") or {})
    )
    remedy = REMEDIES.get(remedy_cfg["type"], key=f"remedies.{run['remedy']}.type")(
        config_key=f"remedies.{run['remedy']}", **dict(remedy_cfg.get("params") or {})
    )
    if probe_fn is None:
        probe_fn = make_probe_fn(data_dir, tokenizer, kind, probe_cfg or {}, max_length)
    model, result = train_with_plugins(
        engine,
        model,
        objective,
        remedy,
        ctx,
        state_dir=state_dir,
        probe_fn=probe_fn,
        fingerprint_extra={
            "base": base.content_hash,
            "run": dict(run),
            "objective": dict(objective_cfg),
            "remedy": dict(remedy_cfg),
            "max_length": max_length,
            # a state saved by other code is not resumed
            "code": fingerprint_of(code),
        },
        stop_after_steps=stop_after_steps,
        desc=f"finetune {run['objective']}/{run['remedy']}",
    )
    model = engine.accelerator.unwrap_model(model)
    if not engine.is_main_process:
        engine.accelerator.wait_for_everyone()
        return read_json(out_dir / MANIFEST)
    data_files = {str(data_dir / name): sha256_file(data_dir / name) for name in (SOURCE, PAIRS, WORD_PAIRS, REPLAY)}
    manifest = save_model_dir(
        model,
        tokenizer,
        out_dir,
        kind,
        parent_hash=base.content_hash,
        run=dict(run),
        extra={
            "objective": dict(objective_cfg),
            "remedy": dict(remedy_cfg),
            "training": dict(train_cfg),
            "data_files": data_files,
            "code": dict(code) if code is not None else None,
        },
    )
    write_trajectory(trajectory_path, result.trajectory_rows)
    write_json(
        summary_path,
        {
            **result.summary(),
            "n_train_examples_source": len(ctx.debias_texts),
            "n_train_pairs": len(ctx.stereo_pairs),
            "packing": packing_summary(ctx),
            "run": dict(run),
            "checkpoint_hash": manifest["content_hash"],
            "base_hash": base.content_hash,
            "settings": asdict(settings),
            "num_processes": engine.accelerator.num_processes,
            "device": str(engine.device),
            "code": dict(code) if code is not None else None,
        },
    )
    if state_dir is not None:
        clear_state(state_dir)
    engine.accelerator.wait_for_everyone()
    log.info(
        "run %s: %d steps, final loss %.4f, checkpoint %s",
        run,
        result.steps,
        result.final_loss,
        manifest["content_hash"][:12],
    )
    return manifest


SPEC_KEYS = (
    "base_dir",
    "data_dir",
    "run",
    "objective_cfg",
    "remedy_cfg",
    "train_cfg",
    "out_dir",
    "sidecar",
    "state_dir",
    "trajectory",
    "summary",
    "probe_cfg",
)


def run_finetune_spec(spec: Mapping[str, Any], threads: int = 1) -> dict[str, Any]:
    """Entry point of workflow_scripts/finetune.py: load plugins, run, write the sidecar (main process)."""
    from fairforget.models.modeldir import write_sidecar
    from fairforget.registry import load_plugins

    missing = [key for key in SPEC_KEYS if key not in spec]
    if missing:
        raise ConfigError(f"finetune job spec: missing key(s) {', '.join(missing)}")
    torch.set_num_threads(max(1, int(threads)))
    load_plugins(spec.get("plugins", []), base_dir=spec.get("repo_root", "."))
    manifest = run_finetune(
        spec["base_dir"],
        spec["data_dir"],
        spec["run"],
        spec["objective_cfg"],
        spec["remedy_cfg"],
        spec["train_cfg"],
        spec["out_dir"],
        spec["state_dir"],
        spec["trajectory"],
        spec["summary"],
        spec["probe_cfg"],
        code=spec.get("code"),
    )
    if int(os.environ.get("RANK", "0")) == 0:
        write_sidecar(spec["out_dir"], spec["sidecar"])
    return manifest
