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
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fairforget.code_identity import fingerprint_of
from fairforget.data.cda import read_word_pairs_json
from fairforget.data.sizes import resolve_size
from fairforget.errors import ConfigError, ModelError
from fairforget.hashing import sha256_file
from fairforget.io import read_jsonl, write_json
from fairforget.models.modeldir import load_model_dir, save_model_dir, weight_change, write_sidecar
from fairforget.paths import Run
from fairforget.registry import load_plugins
from fairforget.training.examples import TextColumn, seeded_permutation
from fairforget.training.job import FinetuneJob
from fairforget.training.loop import ProbeFn, TrainResult
from fairforget.training.packing import PACKED_BLOCKS
from fairforget.training.plugins import OBJECTIVES, REMEDIES, TrainingContext
from fairforget.training.run import Hooks, RunOptions, TrainJob, make_accelerator, run_training_job
from fairforget.training.settings import TrainSettings

if TYPE_CHECKING:
    from fairforget.scoring.pairs import PairScoring

log = logging.getLogger(__name__)

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


def build_context(
    data: Mapping[str, str | Path], kind: str, tokenizer: Any, run: Run, max_length: int, mlm_probability: float
) -> TrainingContext:
    """The TrainingContext of a run from the prepared data files (`data`: paths by role, paths.FINETUNE_DATA).

    The debiasing and general texts are memory-mapped text tables (`TextColumn`): the run's subset is an index
    array, so the context costs 8 bytes per debiasing text whatever the corpus size."""
    corpus = TextColumn(data["source"])
    pairs = [(str(r["stereo"]), str(r["anti"])) for r in read_jsonl(data["pairs"], required=("stereo", "anti"))]
    return TrainingContext(
        kind=kind,
        tokenizer=tokenizer,
        seed=run.seed,
        max_length=max_length,
        debias_texts=corpus.subset(subset_indices(len(corpus), run.size, run.seed)),
        stereo_pairs=subset_pairs(pairs, run.size, run.seed),
        word_pairs=list(read_word_pairs_json(data["word_pairs"])),
        general_texts=TextColumn(data["replay"]),
        mlm_probability=mlm_probability,
    )


def make_probe_fn(
    tokenizer: Any,
    kind: str,
    general: Path,
    pairs: Path,
    max_examples: int,
    batch_size: int,
    max_length: int,
    scoring: PairScoring,
) -> ProbeFn:
    """The probe callback: the first `max_examples` held-out texts of `general` and stereotype pairs of `pairs`,
    the pairs scored by `scoring`, the evaluation's scoring of that pair set (so a pair is "correct" during
    training exactly when the evaluation's pair preference would say so)."""
    from fairforget.scoring.probe import record_probe_correctness  # lazy: the scoring stack is heavy

    general_items = read_jsonl(general, required=("id", "text"))[:max_examples]
    pair_items = read_jsonl(pairs, required=("id", "stereo", "anti"))[:max_examples]

    def probe_fn(model: torch.nn.Module, step: int) -> list[dict[str, Any]]:
        return record_probe_correctness(
            model, tokenizer, kind, general_items, pair_items, batch_size, max_length, step=step, scoring=scoring
        )

    return probe_fn


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


def plugin_hooks(run: Run, objective: Mapping[str, Any], remedy: Mapping[str, Any]) -> Hooks:
    """The run's objective and remedy from their config entries; constructing a plug-in validates its params
    (errors name the entry)."""
    objective_key, remedy_key = f"objectives.{run.objective}", f"remedies.{run.remedy}"
    return Hooks(
        OBJECTIVES.get(objective["type"], key=f"{objective_key}.type")(
            config_key=objective_key, **dict(objective.get("params") or {})
        ),
        REMEDIES.get(remedy["type"], key=f"{remedy_key}.type")(
            config_key=remedy_key, **dict(remedy.get("params") or {})
        ),
    )


def run_finetune_job(
    job: FinetuneJob,
    threads: int | None = None,
    *,
    probe_fn: ProbeFn | None = None,
    stop_after_steps: int | None = None,
) -> dict[str, Any]:
    """Entry point of workflow_scripts/finetune.py: fine-tune the base model for one run, save it and write its
    sidecar (main process); returns the new manifest.

    The job is unpacked here, once, into what each piece takes: its paths as `Path`s, its training section as
    `TrainSettings` and numbers, its objective and remedy as `Hooks`, its probe as files, sizes and a scoring;
    only `save_finetuned`, which records the job, gets the job itself. `threads`: torch's CPU threads (None:
    left as they are); `probe_fn` replaces the probe of `job.probe` and `stop_after_steps` simulates
    preemption (tests). Weights are trained in float32 (mixed precision only autocasts the forward pass).
    """
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    load_plugins(job.plugins, base_dir=job.repo_root)
    run, training, probe = job.run, job.training, job.probe
    base = load_model_dir(Path(job.base_dir))
    model, tokenizer, kind = base.model, base.tokenizer, base.kind
    if next(model.parameters()).dtype != torch.float32:
        model = model.float()
    max_length = int(training["max_length"])
    settings = TrainSettings.from_config(training, seed=run.seed)
    data = {role: Path(path) for role, path in job.data.items()}
    ctx = build_context(data, kind, tokenizer, run, max_length, float(training["mlm_probability"]))
    hooks = plugin_hooks(run, job.objective, job.remedy)
    if probe_fn is None and probe is not None:
        from fairforget.scoring.pairs import pair_scoring  # lazy: the scoring stack is heavy

        scoring = pair_scoring(kind, probe.pair_set, probe.causal_pair_score)
        general, pairs = Path(probe.general), Path(probe.pairs)
        probe_fn = make_probe_fn(
            tokenizer, kind, general, pairs, probe.max_examples, probe.batch_size, probe.max_length, scoring
        )
    fingerprint_extra = {
        "base": base.content_hash,
        "run": run.wildcards(),
        "objective": dict(job.objective),
        "remedy": dict(job.remedy),
        "max_length": max_length,
        "code": fingerprint_of(job.code),  # a state saved by other code is not resumed
    }
    state_dir, out_dir = None if job.state_dir is None else Path(job.state_dir), Path(job.out_dir)
    desc = f"finetune {run.objective}/{run.remedy}"
    options = RunOptions(state_dir, probe_fn, fingerprint_extra, stop_after_steps, desc)
    train_job = TrainJob(model, ctx, settings, make_accelerator(settings), options)
    manifest = run_training_job(
        train_job, hooks, out_dir, lambda trained, result: save_finetuned(job, train_job, base, trained, result)
    )
    log.info("run %s: checkpoint %s", run.path, manifest["content_hash"][:12])
    if int(os.environ.get("RANK", "0")) == 0:
        write_sidecar(out_dir, job.sidecar)
    return manifest


def save_finetuned(
    job: FinetuneJob, train_job: TrainJob, base: Any, model: torch.nn.Module, result: TrainResult
) -> dict[str, Any]:
    """Write the checkpoint (manifest last, parent_hash = the base's), the trajectory and the summary."""
    run, ctx = job.run, train_job.ctx
    data_files = {str(Path(path)): sha256_file(path) for path in job.data.values()}
    code = None if job.code is None else dict(job.code)
    manifest = save_model_dir(
        model,
        ctx.tokenizer,
        job.out_dir,
        ctx.kind,
        parent_hash=base.content_hash,
        run=run.wildcards(),
        extra={
            "objective": dict(job.objective),
            "remedy": dict(job.remedy),
            "training": dict(job.training),
            "data_files": data_files,
            "code": code,
        },
    )
    change = checked_weight_change(job.base_dir, job.out_dir, run.path)
    write_trajectory(job.trajectory, result.trajectory_rows)
    write_json(
        job.summary,
        {
            **result.summary(),
            "weight_change": change,
            "n_train_examples_source": len(ctx.debias_texts),
            "n_train_pairs": len(ctx.stereo_pairs),
            "packing": packing_summary(ctx),
            "run": run.wildcards(),
            "checkpoint_hash": manifest["content_hash"],
            "base_hash": base.content_hash,
            "settings": asdict(train_job.settings),
            "num_processes": train_job.accelerator.num_processes,
            "device": str(train_job.accelerator.device),
            "code": code,
        },
    )
    log.info("run %s: %d steps, final loss %.4f", run.path, result.steps, result.final_loss)
    return manifest


def checked_weight_change(base_dir: str | Path, out_dir: str | Path, what: str) -> dict[str, Any]:
    """The checkpoint's weight change from its base model (`models.modeldir.weight_change`), with a warning when
    no weight changed at all: the run's objective then did nothing the evaluation could see (a zero gradient, a
    frozen model, a learning rate that rounds away), and every bias or forgetting change it reports is 0 by
    construction, not a finding."""
    try:
        change = weight_change(base_dir, out_dir)
    except ModelError as err:  # advisory: a checkpoint whose tensors cannot be paired is not failed for it
        log.warning("run %s: weight change from the base model not measured: %s", what, err)
        return {"error": str(err)}
    if change["changed"] == 0:
        log.warning(
            "run %s: the checkpoint's %d weights are bit-identical to the base model's: fine-tuning changed nothing "
            "(check the objective's loss reaches the weights, the learning rate and the number of steps)",
            what,
            change["total"],
        )
    else:
        log.info(
            "run %s: %d of %d weights changed, max |w - w0| %.3g, ||w - w0|| / ||w0|| %.3g",
            what,
            change["changed"],
            change["total"],
            change["max_abs"],
            change["relative_l2"],
        )
    return change
