"""The training engine shared by toy pretraining and debiasing fine-tuning.

One loop on `accelerate.Accelerator` (CPU, one GPU, or several GPUs under `accelerate launch`): AdamW with
decoupled weight decay (none on biases/norms) and a linear warm-up then linear decay (`training.optim`),
gradient accumulation, grad-norm clipping, optional bf16/fp16 autocast. The data order is a seeded,
position-addressable example stream (`training.order`); the loop itself, with its resume, probe and preemption
parts, is `training.loop.TrainingLoop`.

`train_with_plugins` drives an objective and a remedy through the plug-in interface (`training.plugins`); it
tokenises every training text once before the loop (`lm.pretokenize`), so collate functions only pad cached ids;
above `PRETOKENIZE_MAX_EXAMPLES` examples it tokenises per batch instead (same batches, same checkpoint hash).
With `TrainSettings.packing` it packs the texts into blocks of `block_size` tokens instead (`training.packing`)
and trains on those, for objectives that declare `Objective.packable`; any other objective is refused with a
ConfigError naming `training.packing` before it prepares the model.

The probe callback (the training trajectory) runs after the optimizer steps of `TrainSettings.probe_steps` inside
`isolated_probe`, which restores every training flag and random generator state afterwards: the checkpoint is the
same whatever the probe schedule, or with no probe at all (tests/test_engine_probe_schedule.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from fairforget.errors import ConfigError
from fairforget.hashing import canonical_json_hash
from fairforget.training import lm, packing
from fairforget.training.examples import ExampleTexts, example_types, examples_fingerprint
from fairforget.training.loop import (
    CollateFn,
    LossFn,
    ProbeFn,
    TrainingLoop,
    TrainingPreempted,
    TrainResult,
    isolated_probe,
    make_optimizer,
)
from fairforget.training.optim import linear_schedule
from fairforget.training.order import GROUP_BATCHES, ExampleOrder, example_stream_indices
from fairforget.training.plugins import Objective, Remedy, TrainingContext
from fairforget.training.settings import AUTO, AUTO_PROBE_INTERVALS, TrainSettings

log = logging.getLogger(__name__)
# Above this many examples the texts are tokenised per batch, not all up front (memory flat in the corpus).
PRETOKENIZE_MAX_EXAMPLES = 200_000

# The engine's public names, importable from here as before the loop moved to training.loop.
__all__ = [
    "AUTO",
    "AUTO_PROBE_INTERVALS",
    "GROUP_BATCHES",
    "CollateFn",
    "Engine",
    "ExampleOrder",
    "LossFn",
    "ProbeFn",
    "TrainResult",
    "TrainSettings",
    "TrainingLoop",
    "TrainingPreempted",
    "example_stream_indices",
    "isolated_probe",
    "linear_schedule",
    "make_optimizer",
    "train_with_plugins",
]


class Engine:
    """Owns the Accelerator; `fit` runs one training loop."""

    def __init__(self, settings: TrainSettings) -> None:
        from accelerate import Accelerator

        settings.validate()
        self.settings = settings
        # Launched as several processes (`accelerate launch --multi_gpu`, torchrun) on a node without CUDA:
        # accelerate joins them into one gloo process group only when asked for the CPU; otherwise each process
        # would train the whole run alone and all would write the same outputs.
        cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
        try:
            self.accelerator = Accelerator(mixed_precision=settings.mixed_precision, cpu=cpu)
        except ValueError:
            # accelerate keeps one process-wide state; a second Engine in the same process (tests, the
            # benchmark) with another mixed_precision must reset it. Never the case inside a launched job.
            from accelerate.state import AcceleratorState

            AcceleratorState._reset_state()
            self.accelerator = Accelerator(mixed_precision=settings.mixed_precision, cpu=cpu)

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def is_main_process(self) -> bool:
        return self.accelerator.is_main_process

    def fit(
        self,
        model: torch.nn.Module,
        examples: Sequence[dict[str, Any]],
        collate_fn: CollateFn,
        loss_fn: LossFn,
        *,
        state_dir: str | Path | None = None,
        probe_fn: ProbeFn | None = None,
        fingerprint_extra: Any = None,
        stop_after_steps: int | None = None,
        desc: str = "train",
        lengths: Sequence[int] | None = None,
    ) -> TrainResult:
        """Train `model` in place on `examples`; resume from `state_dir` if it holds a matching state.

        `stop_after_steps` is a test hook: behave as if SIGTERM arrived during that step.
        `fingerprint_extra` (JSON-able: data hash, objective config, ...) guards against resuming another run.
        `lengths` (one per example, e.g. tokens) are what `group_by_length` groups by; default: characters.
        """
        loop = TrainingLoop(
            self.settings,
            self.accelerator,
            model,
            examples,
            collate_fn,
            loss_fn,
            state_dir=state_dir,
            probe_fn=probe_fn,
            fingerprint_extra=fingerprint_extra,
            desc=desc,
            lengths=lengths,
        )
        return loop.run(stop_after_steps=stop_after_steps)


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


def train_with_plugins(
    engine: Engine,
    model: torch.nn.Module,
    objective: Objective,
    remedy: Remedy,
    ctx: TrainingContext,
    *,
    state_dir: str | Path | None = None,
    probe_fn: ProbeFn | None = None,
    fingerprint_extra: Any = None,
    stop_after_steps: int | None = None,
    desc: str = "finetune",
) -> tuple[torch.nn.Module, TrainResult]:
    """Drive an objective and a remedy through the plug-in interface (see `training.plugins`)."""
    if ctx.kind not in objective.supported_kinds:
        raise ConfigError(
            f"objective {type(objective).__name__} supports {objective.supported_kinds} models, not {ctx.kind!r}"
        )
    ctx.device = engine.device
    if engine.settings.packing:
        check_packable(objective, [], engine.settings, ctx)
    model.to(engine.device)
    model = objective.prepare_model(model, ctx)
    examples = objective.build_examples(ctx)
    examples = remedy.transform_examples(examples, ctx)
    fingerprint = {"examples": examples_fingerprint(examples), "extra": fingerprint_extra}
    collate: CollateFn
    if engine.settings.packing:
        # Packed blocks replace the examples; the objective's loss sees LM batches as from its own collate.
        block_size = check_packable(objective, examples, engine.settings, ctx)
        packing.check_block_size(model, block_size)
        # written under the run's state dir, so a resumed run maps the same blocks instead of packing again
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
        examples = packing.block_examples(blocks)

        def collate(batch_examples: list[dict[str, Any]], generator: torch.Generator) -> dict[str, Any]:
            return packing.collate_blocks(batch_examples, ctx, generator)
    elif len(examples) <= PRETOKENIZE_MAX_EXAMPLES:
        # Tokenise every training text once, up front: collate then only pads cached ids (lm.encode).
        lm.pretokenize(ctx, lm.example_texts(examples))

        def collate(batch_examples: list[dict[str, Any]], generator: torch.Generator) -> dict[str, Any]:
            return objective.collate(batch_examples, ctx, generator)
    else:
        # A corpus too large to tokenise up front (an unpackable objective at paper scale): per batch, the same
        # ids (lm.encode falls back to lm.tokenize) with memory independent of the corpus. The saved tokenizer
        # keeps the padding/truncation settings of its last call, which are part of the checkpoint's hash: leave
        # them as the up-front path does (one call with its settings, each batch's call undone).
        lm.build_token_cache(ctx.tokenizer, lm.example_texts(examples[:1]), ctx.max_length)
        log.info("%d examples: tokenised per batch, not up front", len(examples))

        def collate(batch_examples: list[dict[str, Any]], generator: torch.Generator) -> dict[str, Any]:
            with lm.tokenizer_settings_kept(ctx.tokenizer):
                return objective.collate(batch_examples, ctx, generator)

    model = remedy.prepare_model(model, ctx)
    model.to(engine.device)

    def loss_fn(m: torch.nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        loss = objective.loss(m, batch, ctx)
        penalty = remedy.penalty(m, ctx)
        return loss if penalty is None else loss + penalty

    result = engine.fit(
        model,
        examples,
        collate,
        loss_fn,
        state_dir=state_dir,
        probe_fn=probe_fn,
        fingerprint_extra=fingerprint,
        stop_after_steps=stop_after_steps,
        desc=desc,
        lengths=(
            lm.example_token_lengths(ctx, examples)
            if engine.settings.group_by_length and not engine.settings.packing
            else None
        ),
    )
    model = remedy.finalize_model(model, ctx)
    model = objective.finalize_model(model, ctx)
    return model, result
