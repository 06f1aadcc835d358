"""One training run, shared by toy pretraining and debiasing fine-tuning: `train(job, hooks)` over
`training.loop.TrainingLoop`, and `run_training_job`, the job shell around it (no stale manifest, train, save,
clear the resumable state).

The loop runs on `accelerate.Accelerator` (CPU, one GPU, or several GPUs under `accelerate launch`): AdamW with
decoupled weight decay (none on biases/norms) and a linear warm-up then linear decay (`training.optim`),
gradient accumulation, grad-norm clipping, optional bf16/fp16 autocast, a seeded position-addressable example
order (`training.order`). `train` drives an objective and a remedy (`Hooks`, the plug-in interface of
`training.plugins`; pretraining is an objective of its own, `training.pretrain.Pretraining`). It tokenises every
training text once before the loop (`lm.pretokenize`), or, above `PRETOKENIZE_MAX_EXAMPLES` examples, per batch
(same batches, same checkpoint hash). With `TrainSettings.packing` it trains on packed blocks instead
(`training.packing`), for objectives that declare `Objective.packable`; any other is refused with a ConfigError
naming `training.packing` before it prepares the model. The probe callback runs inside `loop.isolated_probe`:
the checkpoint is the same whatever the probe schedule (tests/unit/training/test_settings.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from fairforget.errors import ConfigError
from fairforget.hashing import canonical_json_hash
from fairforget.io import read_json
from fairforget.models.modeldir import MANIFEST
from fairforget.training import lm, packing
from fairforget.training.examples import ExampleTexts, example_types, examples_fingerprint
from fairforget.training.loop import CollateFn, ProbeFn, TrainingLoop, TrainResult
from fairforget.training.plugins import Objective, Remedy, TrainingContext
from fairforget.training.settings import TrainSettings
from fairforget.training.state import clear_state

log = logging.getLogger(__name__)
# Above this many examples the texts are tokenised per batch, not all up front (memory flat in the corpus).
PRETOKENIZE_MAX_EXAMPLES = 200_000


def make_accelerator(settings: TrainSettings) -> Any:
    """The run's `accelerate.Accelerator` (mixed precision from `settings`)."""
    from accelerate import Accelerator

    # Launched as several processes (`accelerate launch --multi_gpu`, torchrun) on a node without CUDA:
    # accelerate joins them into one gloo process group only when asked for the CPU; otherwise each process
    # would train the whole run alone and all would write the same outputs.
    cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    try:
        accelerator = Accelerator(mixed_precision=settings.mixed_precision, cpu=cpu)
    except ValueError:
        # accelerate keeps one process-wide state; a second run in the same process (tests, the benchmark)
        # with another mixed_precision must reset it. Never the case inside a launched job.
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state()
        accelerator = Accelerator(mixed_precision=settings.mixed_precision, cpu=cpu)
    if settings.mixed_precision == "bf16" and accelerator.device.type == "cpu" and not cpu_has_native_bf16():
        log.warning(
            "training.mixed_precision bf16 on a CPU without bf16 instructions (AVX512-BF16 or AMX): autocast "
            "emulates bf16, many times slower than fp32 (bert-base's backward 35x on an AVX2 CPU); set "
            "training.mixed_precision: 'no' for a CPU run (docs/paper-rehearsal.md)"
        )
    return accelerator


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products natively (AVX512-BF16 or AMX tiles), as torch reports it."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(probe() for probe in probes if probe is not None)


@dataclass(frozen=True)
class RunOptions:
    """Per-run options: where the resumable state lives (None: not saved), the probe callback, what else a
    saved state must match to be resumed (JSON-able), the preemption test hook (behave as if SIGTERM arrived
    during that step) and the progress label."""

    state_dir: str | Path | None = None
    probe_fn: ProbeFn | None = None
    fingerprint_extra: Any = None
    stop_after_steps: int | None = None
    desc: str = "train"


@dataclass(frozen=True)
class Hooks:
    """What is trained for: an objective (data, collate, loss) and a remedy (examples, penalty)."""

    objective: Objective
    remedy: Remedy = field(default_factory=Remedy)


@dataclass(frozen=True)
class TrainJob:
    """One training run: the model (trained in place), its context, settings, accelerator and options."""

    model: torch.nn.Module
    ctx: TrainingContext
    settings: TrainSettings
    accelerator: Any
    options: RunOptions = RunOptions()


def check_packable(
    objective: Objective, examples: Sequence[dict[str, Any]], settings: TrainSettings, ctx: TrainingContext
) -> int:
    """The block size of a packed run; ConfigError naming `training.packing` when the objective or the
    examples cannot be packed (sentence pairs and counterfactual twins need their sentence boundaries).
    Called with no examples before the objective prepares the model (which may be costly), then with them."""
    unpackable = sorted(example_types(examples) - {"text"})
    if not type(objective).packable or unpackable:
        what = (
            f"examples of type {', '.join(map(repr, unpackable))}"
            if unpackable
            else "sentence pairs or a loss other than the plain LM loss (Objective.packable is false)"
        )
        raise ConfigError(
            f"config key 'training.packing': objective {objective.config_key} trains on {what}, which packed blocks "
            "would cut apart; set packing: false for it (objectives.<name>.training.packing: false)"
        )
    if settings.group_by_length:
        raise ConfigError("config key 'training.group_by_length': packed blocks all have one length; set it false")
    return int(settings.block_size or ctx.max_length)


def _packed(
    job: TrainJob, model: torch.nn.Module, objective: Objective, examples: Sequence[dict[str, Any]], fingerprint: Any
) -> Sequence[dict[str, Any]]:
    """Packed blocks in place of the examples (their files under the run's state dir, so a resumed run maps
    the same blocks instead of packing again)."""
    ctx, state_dir = job.ctx, job.options.state_dir
    block_size = check_packable(objective, examples, job.settings, ctx)
    packing.check_block_size(model, block_size)
    blocks = packing.pack_texts(
        ctx.tokenizer,
        ExampleTexts(examples),
        block_size,
        ctx.seed,
        folder=None if state_dir is None else Path(state_dir) / packing.PACKED_DIR,
        name="blocks-" + canonical_json_hash({"of": fingerprint, "block_size": block_size, "seed": ctx.seed})[:16],
    )
    ctx.extra[packing.PACKED_BLOCKS] = blocks
    log.info(
        "packed %d texts (%d tokens) into %d blocks of %d tokens (%d tokens of the last partial block dropped)",
        blocks.n_texts,
        blocks.corpus_tokens,
        blocks.n_blocks,
        block_size,
        blocks.dropped_tokens,
    )
    return packing.block_examples(blocks)


def _collate_fn(job: TrainJob, objective: Objective, examples: Sequence[dict[str, Any]]) -> CollateFn:
    """The batches' collate function; tokenises the texts up front when there are not too many."""
    ctx = job.ctx
    if job.settings.packing:
        # packed blocks: the objective's loss sees LM batches as from its own collate
        return lambda batch, generator: packing.collate_blocks(batch, ctx, generator)
    if len(examples) <= PRETOKENIZE_MAX_EXAMPLES:
        lm.pretokenize(ctx, lm.example_texts(examples))  # collate then only pads cached ids (lm.encode)
        return lambda batch, generator: objective.collate(batch, ctx, generator)
    # A corpus too large to tokenise up front (an unpackable objective at paper scale): per batch, the same ids
    # (lm.encode falls back to lm.tokenize) with memory independent of the corpus. The saved tokenizer keeps the
    # padding/truncation settings of its last call, which are part of the checkpoint's hash: leave them as the
    # up-front path does (one call with its settings, each batch's call undone).
    lm.build_token_cache(ctx.tokenizer, lm.example_texts(examples[:1]), ctx.max_length)
    log.info("%d examples: tokenised per batch, not up front", len(examples))

    def collate(batch: list[dict[str, Any]], generator: torch.Generator) -> dict[str, Any]:
        with lm.tokenizer_settings_kept(ctx.tokenizer):
            return objective.collate(batch, ctx, generator)

    return collate


def train(job: TrainJob, hooks: Hooks) -> tuple[torch.nn.Module, TrainResult]:
    """Train `job.model` for `hooks` (resuming from the options' state dir when it holds a matching state);
    the trained model (wrapped by the accelerator) and the result."""
    objective, remedy, ctx, settings = hooks.objective, hooks.remedy, job.ctx, job.settings
    if ctx.kind not in objective.supported_kinds:
        raise ConfigError(
            f"objective {type(objective).__name__} supports {objective.supported_kinds} models, not {ctx.kind!r}"
        )
    device = job.accelerator.device
    ctx.device = device
    if settings.packing:
        check_packable(objective, [], settings, ctx)
    model = objective.prepare_model(job.model.to(device), ctx)
    examples = remedy.transform_examples(objective.build_examples(ctx), ctx)
    fingerprint = {"examples": examples_fingerprint(examples), "extra": job.options.fingerprint_extra}
    if settings.packing:
        examples = _packed(job, model, objective, examples, fingerprint)
    collate = _collate_fn(job, objective, examples)
    model = remedy.prepare_model(model, ctx)
    model.to(device)

    def loss_fn(m: torch.nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        loss = objective.loss(m, batch, ctx)
        penalty = remedy.penalty(m, ctx)
        return loss if penalty is None else loss + penalty

    options = job.options
    loop = TrainingLoop(
        settings,
        job.accelerator,
        model,
        examples,
        collate,
        loss_fn,
        state_dir=options.state_dir,
        probe_fn=options.probe_fn,
        fingerprint_extra=fingerprint,
        desc=options.desc,
        lengths=lm.example_token_lengths(ctx, examples) if settings.group_by_length and not settings.packing else None,
    )
    result = loop.run(stop_after_steps=options.stop_after_steps)
    model = remedy.finalize_model(model, ctx)
    return objective.finalize_model(model, ctx), result


def run_training_job(
    job: TrainJob, hooks: Hooks, out_dir: str | Path, save: Callable[[torch.nn.Module, TrainResult], dict[str, Any]]
) -> dict[str, Any]:
    """The shell of a training job: remove a stale manifest (it must never vouch for a checkpoint this run has
    not finished), train, `save` the unwrapped model on the main process (returns the manifest), then clear the
    resumable state. Other processes wait and return the main process's manifest."""
    manifest_path = Path(out_dir) / MANIFEST
    manifest_path.unlink(missing_ok=True)
    model, result = train(job, hooks)
    accelerator = job.accelerator
    model = accelerator.unwrap_model(model)
    if not accelerator.is_main_process:
        accelerator.wait_for_everyone()
        return read_json(manifest_path)
    manifest = save(model, result)
    if job.options.state_dir is not None:
        clear_state(job.options.state_dir)
    accelerator.wait_for_everyone()
    return manifest
