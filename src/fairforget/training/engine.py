"""The training loop shared by toy pretraining and debiasing fine-tuning.

One loop on `accelerate.Accelerator` (CPU, one GPU, or several GPUs under `accelerate launch`): AdamW with
decoupled weight decay (none on biases/norms), linear warm-up then linear decay, gradient accumulation,
grad-norm clipping, optional bf16/fp16 autocast.

Data order: the examples form one endless stream of seeded permutations (epoch e is
`randperm(n, generator seeded with (seed, e))`), and each micro-batch takes the next `batch_size` examples of
the stream; so the data position is a single integer and a resumed run sees exactly the same batches.
With `group_by_length` (off by default) the stream is cut into windows of up to 50 micro-batches; each window
is sorted by example length (longest first, ties in stream order) and cut into micro-batches, whose order is
then shuffled with a generator seeded by (seed, window): batches hold examples of similar length (less
padding: faster on CPU and GPU), and the order is still a pure function of the seed and the lengths, so reruns and
resumes stay exact (as transformers' LengthGroupedSampler, but position-addressable).
`train_with_plugins` tokenises every training text once before the loop (`lm.pretokenize`), so collate
functions only pad cached ids.

Random masking in `collate` draws from a separate generator whose state is checkpointed with the model,
optimizer, scheduler and global RNG states (`fairforget.training.state`). On CPU a rerun, or an interrupted
and resumed run, gives bit-identical weights.
With several processes each one takes a strided share of every micro-batch;
the RNG states saved are the main process's, so multi-GPU resume is exact in data order but not in dropout.

The probe callback (the training trajectory) runs after the optimizer steps of `TrainSettings.probe_steps` inside
`isolated_probe`, which restores every training flag and random generator state afterwards: the checkpoint is the
same whatever the probe schedule, or with no probe at all (tests/test_engine_probe_schedule.py).

SIGTERM (SLURM preemption) sets a flag; at the next optimizer-step boundary the state is saved and
`TrainingPreempted` is raised, so the job exits non-zero and a rerun with the same `state_dir` resumes.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fairforget.errors import ConfigError, TrainingError
from fairforget.hashing import canonical_json_hash
from fairforget.training import lm
from fairforget.training.plugins import Objective, Remedy, TrainingContext
from fairforget.training.state import TrainingState, find_state, load_training_state, save_training_state

log = logging.getLogger(__name__)

CollateFn = Callable[[list[dict[str, Any]], torch.Generator], dict[str, Any]]
LossFn = Callable[[torch.nn.Module, dict[str, Any]], torch.Tensor]
ProbeFn = Callable[[torch.nn.Module, int], list[dict[str, Any]]]
MIXED_PRECISION = ("no", "bf16", "fp16")
OPTIMIZER_IMPLS = ("auto", "fused", "foreach", "for_loop")
GROUP_BATCHES = 50  # micro-batches per length-sorted window (transformers' LengthGroupedSampler uses 50 too)
AUTO = "auto"
# Probe intervals per run under `probe_every_steps: auto`: 11 probes (step 0 included) per run of >= 10 steps.
AUTO_PROBE_INTERVALS = 10


class TrainingPreempted(TrainingError):
    """Training stopped on SIGTERM (or the test hook) after saving a resumable state."""


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings; `from_config` reads them from a `training:`-style config section."""

    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"
    checkpoint_every_steps: int = 100
    # Probe schedule (`probe_steps`): "auto" = AUTO_PROBE_INTERVALS equal intervals of the run, whatever its
    # length, so runs of different lengths are probed equally often; an integer = every that many steps;
    # None = at the start and the end only.
    probe_every_steps: int | str | None = "auto"
    # Batches of similar length (see the module docstring); 1.35x tokens/CPU-s on bench_training's text. Off by
    # default: it changes which examples share a batch, hence results, and for objectives that mix example
    # types (unlikelihood: pairs + text; counterfactual_consistency) it sorts the types into separate batches
    # (pairs are longer), which reweights their loss terms. Safe for text-only training (pretraining, none,
    # cda, dropout).
    group_by_length: bool = False
    # AdamW kernel: "auto" = fused where torch has a fused kernel for the device (CUDA and CPU: measured 3x
    # faster per step than foreach on CPU for a toy model, and what transformers.Trainer uses), else foreach.
    optimizer_impl: str = "auto"
    seed: int = 0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], seed: int, key: str = "training") -> TrainSettings:
        """Take the known keys of `cfg` (others, e.g. max_length, belong to the caller); check their values."""
        known = {f for f in cls.__dataclass_fields__ if f != "seed"}
        values = {k: v for k, v in cfg.items() if k in known}
        settings = cls(seed=int(seed), **values)
        settings.validate(key)
        return settings

    def validate(self, key: str = "training") -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"config key '{key}.{name}': {why}, got {getattr(self, name)!r}")

        if not self.epochs > 0:
            raise bad("epochs", "must be > 0")
        if self.max_steps is not None and self.max_steps < 1:
            raise bad("max_steps", "must be a positive integer or null")
        for name in ("batch_size", "gradient_accumulation_steps", "checkpoint_every_steps"):
            if int(getattr(self, name)) < 1:
                raise bad(name, "must be a positive integer")
        every = self.probe_every_steps
        if not (every is None or every == AUTO or (isinstance(every, int) and not isinstance(every, bool)
                                                   and every >= 1)):
            raise bad("probe_every_steps", f"must be {AUTO!r}, a positive integer or null")
        if not self.learning_rate > 0:
            raise bad("learning_rate", "must be > 0")
        if not 0 <= self.warmup_ratio <= 1:
            raise bad("warmup_ratio", "must be in [0, 1]")
        if self.weight_decay < 0:
            raise bad("weight_decay", "must be >= 0")
        if not self.max_grad_norm > 0:
            raise bad("max_grad_norm", "must be > 0")
        if self.mixed_precision not in MIXED_PRECISION:
            raise bad("mixed_precision", f"must be one of {MIXED_PRECISION}")
        if not isinstance(self.group_by_length, bool):
            raise bad("group_by_length", "must be true or false")
        if self.optimizer_impl not in OPTIMIZER_IMPLS:
            raise bad("optimizer_impl", f"must be one of {OPTIMIZER_IMPLS}")

    def probe_steps(self, total_steps: int) -> frozenset[int]:
        """Optimizer steps after which the probe runs (0 = before training; `total_steps` always included).

        "auto": the steps floor(i * total_steps / AUTO_PROBE_INTERVALS) for i = 0..AUTO_PROBE_INTERVALS, i.e.
        AUTO_PROBE_INTERVALS + 1 probes for a run of at least that many steps, every step of a shorter run."""
        every = self.probe_every_steps
        if every == AUTO:
            return frozenset(i * total_steps // AUTO_PROBE_INTERVALS for i in range(AUTO_PROBE_INTERVALS + 1))
        regular = range(0, total_steps + 1, int(every)) if every is not None else range(0)
        return frozenset({0, total_steps, *regular})

    def total_steps(self, n_examples: int) -> int:
        examples_per_step = self.batch_size * self.gradient_accumulation_steps
        if self.max_steps is not None:
            return self.max_steps
        return max(1, math.ceil(self.epochs * n_examples / examples_per_step))


@dataclass
class TrainResult:
    steps: int
    examples: int
    tokens: int
    final_loss: float
    wall_seconds: float
    resumed_from_step: int
    trajectory_rows: list[dict[str, Any]] = field(default_factory=list)
    probe_seconds: float = 0.0
    optimizer_impl: str = ""
    # torch's CPU kernel path (ATEN_CPU_CAPABILITY: DEFAULT, AVX2, AVX512, ...): the same seed gives the same
    # weights on the same path only, so the manifests and run summaries record it (README, "Determinism")
    cpu_capability: str = field(default_factory=lambda: torch.backends.cpu.get_cpu_capability())

    @property
    def tokens_per_second(self) -> float:
        """Training throughput: tokens over wall time minus the time spent probing."""
        training_seconds = self.wall_seconds - self.probe_seconds
        return self.tokens / training_seconds if training_seconds > 0 else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "examples": self.examples,
            "tokens": self.tokens,
            "final_loss": self.final_loss,
            "wall_seconds": self.wall_seconds,
            "probe_seconds": self.probe_seconds,
            "tokens_per_second": self.tokens_per_second,
            "resumed_from_step": self.resumed_from_step,
            "optimizer_impl": self.optimizer_impl,
            "cpu_capability": self.cpu_capability,
        }


def linear_schedule(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """LR factor: 0 -> 1 over the warm-up, then linearly down to 0 at `total_steps`."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


class ExampleOrder:
    """The example stream of a run (see the module docstring): `take(start, count)` gives the example indices
    at stream positions [start, start + count). Caches the current epoch's permutation (and length window),
    so a step costs O(batch) rather than a fresh O(n) permutation."""

    def __init__(self, n: int, seed: int, batch_size: int = 1, lengths: Sequence[int] | None = None) -> None:
        if n < 1:
            raise TrainingError("the example stream needs at least one example")
        if lengths is not None and len(lengths) != n:
            raise TrainingError(f"group_by_length: {len(lengths)} lengths for {n} examples")
        self.n, self.seed, self.batch_size = n, seed, batch_size
        self.lengths = None if lengths is None else [int(x) for x in lengths]
        # windows of whole micro-batches, small enough (n / 4) that a window rarely meets an example twice
        self.window = batch_size * max(1, min(GROUP_BATCHES, n // (4 * batch_size)))
        self._epoch, self._permutation = -1, []
        self._window_index, self._window_order = -1, []

    def _epoch_order(self, epoch: int) -> list[int]:
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._permutation = epoch, torch.randperm(self.n, generator=generator).tolist()
        return self._permutation

    def _plain(self, start: int, count: int) -> list[int]:
        indices: list[int] = []
        position = start
        while len(indices) < count:
            epoch, offset = divmod(position, self.n)
            take = min(count - len(indices), self.n - offset)
            indices.extend(self._epoch_order(epoch)[offset:offset + take])
            position += take
        return indices

    def _grouped_window(self, window: int) -> list[int]:
        assert self.lengths is not None
        lengths = self.lengths
        indices = sorted(self._plain(window * self.window, self.window), key=lambda i: -lengths[i])  # stable
        batches = [indices[k:k + self.batch_size] for k in range(0, len(indices), self.batch_size)]
        # its own seed stream (the epoch permutations use seed * 1_000_003 + epoch)
        digest = hashlib.sha256(f"group_by_length:{self.seed}:{window}".encode()).digest()
        generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
        return [i for b in torch.randperm(len(batches), generator=generator).tolist() for i in batches[b]]

    def take(self, start: int, count: int) -> list[int]:
        if self.lengths is None:
            return self._plain(start, count)
        indices: list[int] = []
        position = start
        while len(indices) < count:
            window, offset = divmod(position, self.window)
            if window != self._window_index:
                self._window_index, self._window_order = window, self._grouped_window(window)
            take = min(count - len(indices), self.window - offset)
            indices.extend(self._window_order[offset:offset + take])
            position += take
        return indices


def example_stream_indices(n: int, seed: int, start: int, count: int) -> list[int]:
    """`count` indices from position `start` of the stream of per-epoch seeded permutations of range(n)."""
    return ExampleOrder(n, seed).take(start, count)


def character_lengths(examples: Sequence[Mapping[str, Any]]) -> list[int]:
    """A length per example when no token lengths are given: the characters of its text fields."""
    return [sum(len(e[f]) for f in lm.TEXT_FIELDS if isinstance(e.get(f), str)) for e in examples]


def make_optimizer(
    model: torch.nn.Module, settings: TrainSettings, device: torch.device
) -> tuple[torch.optim.AdamW, str]:
    """AdamW over the trainable parameters with the kernel `settings.optimizer_impl` asks for; returns the
    optimizer and the kernel used ("auto" resolves to "fused" where the device has one, else "foreach")."""
    groups = _parameter_groups(model, settings.weight_decay)
    impl = settings.optimizer_impl
    if impl == "auto":
        try:
            return torch.optim.AdamW(groups, lr=settings.learning_rate, fused=True), "fused"
        except (RuntimeError, ValueError) as error:  # no fused kernel for this device or dtype
            log.info("fused AdamW unavailable on %s (%s); using foreach", device, error)
            impl = "foreach"
    if impl == "fused":
        return torch.optim.AdamW(groups, lr=settings.learning_rate, fused=True), impl
    return torch.optim.AdamW(groups, lr=settings.learning_rate, foreach=impl == "foreach"), impl


def count_tokens_tensor(batch: Mapping[str, Any], device: torch.device) -> torch.Tensor:
    """Non-padding tokens in a batch, as a device tensor (no host sync): the sum of every `*attention_mask`
    tensor, else the sizes of the `*input_ids` tensors."""
    masks = [v for k, v in batch.items() if k.endswith("attention_mask") and isinstance(v, torch.Tensor)]
    if masks:
        return sum((m.sum().to(device=device, dtype=torch.long) for m in masks),
                   torch.zeros((), dtype=torch.long, device=device))
    ids = [v for k, v in batch.items() if k.endswith("input_ids") and isinstance(v, torch.Tensor)]
    return torch.tensor(sum(t.numel() for t in ids), dtype=torch.long, device=device)


def move_to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(v, device) for v in batch)
    return batch


class _StopFlag:
    """Set by SIGTERM (main thread only) or by the `stop_after_steps` test hook."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name


@contextmanager
def _sigterm_sets(flag: _StopFlag) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, flag)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    # Standard practice: no weight decay on biases and normalisation weights (1-D parameters).
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


class Engine:
    """Owns the Accelerator; `fit` runs one training loop."""

    def __init__(self, settings: TrainSettings) -> None:
        from accelerate import Accelerator

        settings.validate()
        self.settings = settings
        try:
            self.accelerator = Accelerator(mixed_precision=settings.mixed_precision)
        except ValueError:
            # accelerate keeps one process-wide state; a second Engine in the same process (tests, the
            # benchmark) with another mixed_precision must reset it. Never the case inside a launched job.
            from accelerate.state import AcceleratorState

            AcceleratorState._reset_state()
            self.accelerator = Accelerator(mixed_precision=settings.mixed_precision)

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def is_main_process(self) -> bool:
        return self.accelerator.is_main_process

    def fit(
        self,
        model: torch.nn.Module,
        examples: list[dict[str, Any]],
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
        settings, accelerator = self.settings, self.accelerator
        if not examples:
            raise TrainingError("no training examples")
        n_examples = len(examples)
        total_steps = settings.total_steps(n_examples)
        warmup_steps = round(settings.warmup_ratio * total_steps)
        fingerprint = canonical_json_hash(
            {"settings": asdict(settings), "n_examples": n_examples, "extra": fingerprint_extra}
        )

        model.to(accelerator.device)
        model.train()
        optimizer, optimizer_impl = make_optimizer(model, settings, accelerator.device)
        if settings.group_by_length and lengths is None:
            lengths = character_lengths(examples)
        order = ExampleOrder(n_examples, settings.seed, settings.batch_size,
                             lengths if settings.group_by_length else None)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(warmup_steps, total_steps))
        collate_generator = torch.Generator().manual_seed(settings.seed * 1_000_003 + 17)
        state = TrainingState(0, 0, 0, 0, float("nan"), 0.0, fingerprint)
        if state_dir is not None and (folder := find_state(state_dir)) is not None:
            state = load_training_state(folder, model, optimizer, scheduler, collate_generator, fingerprint)
            log.info("resuming from %s at step %d (data position %d)", folder, state.step, state.position)
        else:
            # Seed dropout etc. only on a fresh start; a resumed run restores the saved RNG state instead.
            torch.manual_seed(settings.seed)
        resumed_from = state.step
        prepared_model, optimizer = accelerator.prepare(model, optimizer)

        probe_steps = settings.probe_steps(total_steps)

        def probe(step: int) -> None:
            check_losses()  # nothing is probed, saved or returned before its loss was checked
            if probe_fn is None:
                return
            probe_started = time.perf_counter()
            unwrapped = accelerator.unwrap_model(prepared_model)
            with isolated_probe(unwrapped, accelerator.device):
                rows = probe_fn(unwrapped, step)
            state.trajectory_rows.extend(rows)
            state.probe_seconds += time.perf_counter() - probe_started

        def save_state() -> None:
            check_losses()
            if state_dir is not None and accelerator.is_main_process:
                save_training_state(
                    state_dir, accelerator.unwrap_model(prepared_model), optimizer.optimizer
                    if hasattr(optimizer, "optimizer") else optimizer, scheduler, collate_generator, state,
                )
            accelerator.wait_for_everyone()

        flag = _StopFlag()
        unchecked: list[tuple[int, torch.Tensor]] = []
        token_counter = torch.zeros((), dtype=torch.long, device=accelerator.device)

        def check_losses() -> None:
            """Raise on a non-finite loss among the steps not yet checked; fold in their loss and tokens."""
            for step_number, losses in unchecked:
                values = losses.tolist()
                for micro, value in enumerate(values):
                    if not math.isfinite(value):
                        raise TrainingError(
                            f"non-finite loss ({value}) at step {step_number} of {total_steps} "
                            f"(micro-batch {micro + 1}/{len(values)}); no checkpoint was written"
                        )
                state.last_loss = sum(values) / len(values)
            unchecked.clear()
            state.tokens += int(token_counter) * world
            token_counter.zero_()

        micro_batch, accumulation = settings.batch_size, settings.gradient_accumulation_steps
        rank, world = accelerator.process_index, accelerator.num_processes
        log_every = max(1, total_steps // 20)  # about 20 progress lines in the log file
        started = time.perf_counter() - state.wall_seconds
        if state.step == 0 and not state.trajectory_rows:
            probe(0)
        progress = tqdm(
            total=total_steps, initial=state.step, desc=desc, disable=not (accelerator.is_main_process
                                                                           and sys.stderr.isatty()),
        )
        with _sigterm_sets(flag):
            while state.step < total_steps:
                micro_losses = []
                for micro in range(accumulation):
                    indices = order.take(state.position, micro_batch)
                    state.position += micro_batch
                    local = [examples[i] for i in indices[rank::world]]
                    batch = move_to_device(collate_fn(local, collate_generator), accelerator.device)
                    sync = micro == accumulation - 1
                    context = accelerator.no_sync(prepared_model) if not sync and world > 1 else _nullcontext()
                    with context:
                        with accelerator.autocast():
                            loss = loss_fn(prepared_model, batch)
                        accelerator.backward(loss / accumulation)
                    micro_losses.append(loss.detach().float())
                    token_counter += count_tokens_tensor(batch, accelerator.device)
                    state.examples += len(indices)
                accelerator.clip_grad_norm_(prepared_model.parameters(), settings.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state.step += 1
                # Check the previous step's losses now: by the time the device has queued this step they are
                # computed, so the check does not stall the pipeline (a per-step .item() would).
                check_losses()
                unchecked.append((state.step, torch.stack(micro_losses)))
                state.wall_seconds = time.perf_counter() - started
                progress.update(1)
                if state.last_loss == state.last_loss:  # not NaN: a loss has been read back
                    progress.set_postfix(loss=f"{state.last_loss:.4f}", refresh=False)
                if state.step % log_every == 0:
                    check_losses()
                    log.info("%s: step %d/%d, loss %.4f, %.0f tokens/s", desc, state.step, total_steps,
                             state.last_loss, state.tokens / max(state.wall_seconds - state.probe_seconds, 1e-9))
                if state.step in probe_steps:
                    probe(state.step)
                if stop_after_steps is not None and state.step >= stop_after_steps and state.step < total_steps:
                    flag.signal_name = "stop_after_steps (test hook)"
                if world > 1:
                    # Every process must stop at the same step, or the others block in the next all-reduce.
                    stop = torch.tensor([int(flag.signal_name is not None)], device=accelerator.device)
                    if int(accelerator.reduce(stop, reduction="sum")) > 0 and flag.signal_name is None:
                        flag.signal_name = "SIGTERM (on another process)"
                if flag.signal_name is not None and state.step < total_steps:
                    save_state()
                    progress.close()
                    raise TrainingPreempted(
                        f"received {flag.signal_name}: stopped at step {state.step} of {total_steps}, "
                        f"training state saved to {state_dir}; rerun the job to resume"
                        if state_dir is not None else
                        f"received {flag.signal_name}: stopped at step {state.step} of {total_steps} "
                        "(no state_dir, nothing saved)"
                    )
                if state.step % settings.checkpoint_every_steps == 0 and state.step < total_steps:
                    save_state()
        check_losses()
        progress.close()
        accelerator.unwrap_model(prepared_model).eval()
        return TrainResult(
            steps=state.step,
            examples=state.examples,
            tokens=state.tokens,
            final_loss=state.last_loss,
            wall_seconds=time.perf_counter() - started,
            resumed_from_step=resumed_from,
            trajectory_rows=state.trajectory_rows,
            probe_seconds=state.probe_seconds,
            optimizer_impl=optimizer_impl,
        )


@contextmanager
def _nullcontext() -> Iterator[None]:
    yield


@contextmanager
def isolated_probe(model: torch.nn.Module, device: torch.device) -> Iterator[None]:
    """Run a probe without touching what training depends on, so the checkpoint does not depend on the probe
    schedule: eval mode (no dropout) and no gradients inside; afterwards every module's own train/eval flag and
    the torch (CPU and this device's CUDA), numpy-global and Python `random` generator states are restored."""
    flags = [(module, module.training) for module in model.modules()]
    python_state, numpy_state = random.getstate(), np.random.get_state()
    cuda_devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda_devices), torch.no_grad():
            model.eval()
            yield
    finally:
        for module, flag in flags:
            module.training = flag
        random.setstate(python_state)
        np.random.set_state(numpy_state)


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
    model.to(engine.device)
    model = objective.prepare_model(model, ctx)
    examples = objective.build_examples(ctx)
    examples = remedy.transform_examples(examples, ctx)
    # Tokenise every training text once, up front: collate then only pads cached ids (lm.encode).
    lm.pretokenize(ctx, lm.example_texts(examples))
    model = remedy.prepare_model(model, ctx)
    model.to(engine.device)

    def loss_fn(m: torch.nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        loss = objective.loss(m, batch, ctx)
        penalty = remedy.penalty(m, ctx)
        return loss if penalty is None else loss + penalty

    result = engine.fit(
        model,
        examples,
        lambda batch_examples, generator: objective.collate(batch_examples, ctx, generator),
        loss_fn,
        state_dir=state_dir,
        probe_fn=probe_fn,
        fingerprint_extra={"examples": canonical_json_hash(examples), "extra": fingerprint_extra},
        stop_after_steps=stop_after_steps,
        desc=desc,
        lengths=lm.example_token_lengths(ctx, examples) if engine.settings.group_by_length else None,
    )
    model = remedy.finalize_model(model, ctx)
    model = objective.finalize_model(model, ctx)
    return model, result
