"""One training run as a small object whose parts can be driven and tested alone.

`TrainingLoop` (built and run by `training.run.train`; tests build one to drive its parts) holds what a run mutates: the
prepared model and optimizer, the scheduler, the collate generator and the counters
(`fairforget.training.state.TrainingState`). Its parts:

    restore      (at construction) resume from `state_dir` if it holds a matching state, else seed a fresh start
    step()       one optimizer step: `gradient_accumulation_steps` micro-batches, clip, step, schedule
    check_losses()  read back the losses of the steps not yet checked; raise on a non-finite one
    probe(step)  the trajectory callback inside `isolated_probe` (weights, flags and RNG states untouched)
    save()       the resumable state, written atomically (`fairforget.training.state`)
    stop_reason()   why the run must stop now (SIGTERM, the test hook, another process), or None
    run()        the loop: probe at step 0, then step / probe / stop / save until the last step

Losses are checked one step late: by the time the device has queued step n+1, step n's losses are computed, so
the check does not stall the pipeline (a per-step .item() would). Nothing is probed, saved or returned before
its loss was checked.

Random masking in `collate` draws from a separate generator whose state is checkpointed with the model,
optimizer, scheduler and global RNG states. On CPU a rerun, or an interrupted and resumed run, gives
bit-identical weights. With several processes each one takes a strided share of every micro-batch; the RNG
states saved are the main process's, so multi-GPU resume is exact in data order but not in dropout.

SIGTERM (SLURM preemption) sets a flag; at the next optimizer-step boundary the state is saved and
`TrainingPreempted` is raised, so the job exits non-zero and a rerun with the same `state_dir` resumes.
"""

from __future__ import annotations

import contextlib
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

from fairforget.errors import TrainingError
from fairforget.hashing import canonical_json_hash
from fairforget.training.optim import make_adamw, make_scheduler
from fairforget.training.order import ExampleOrder, character_lengths
from fairforget.training.settings import TrainSettings
from fairforget.training.state import (
    TrainingState,
    current_attempt,
    find_state,
    load_training_state,
    save_training_state,
    saved_by_attempt,
)

log = logging.getLogger(__name__)

CollateFn = Callable[[list[dict[str, Any]], torch.Generator], dict[str, Any]]
LossFn = Callable[[torch.nn.Module, dict[str, Any]], torch.Tensor]
ProbeFn = Callable[[torch.nn.Module, int], list[dict[str, Any]]]


class TrainingPreempted(TrainingError):
    """Training stopped on SIGTERM (or the test hook) after saving a resumable state."""


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


def count_tokens_tensor(batch: Mapping[str, Any], device: torch.device) -> torch.Tensor:
    """Non-padding tokens in a batch, as a device tensor (no host sync): the sum of every `*attention_mask`
    tensor, else the sizes of the `*input_ids` tensors, plus those of the model inputs nested in mappings (the
    sentence-pair objectives' batches: `{"lm": {...}, "twin": {...}}`, `{"stereo": {...}, "anti": {...}}`)."""
    masks = [v for k, v in batch.items() if k.endswith("attention_mask") and isinstance(v, torch.Tensor)]
    ids = [v for k, v in batch.items() if k.endswith("input_ids") and isinstance(v, torch.Tensor)]
    counts = [m.sum() for m in masks] if masks else [torch.tensor(t.numel()) for t in ids]
    counts += [count_tokens_tensor(v, device) for v in batch.values() if isinstance(v, Mapping)]
    zero = torch.zeros((), dtype=torch.long, device=device)
    return sum((c.to(device=device, dtype=torch.long) for c in counts), zero)


def move_to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(v, device) for v in batch)
    return batch


class StopFlag:
    """Set by SIGTERM (main thread only), by the `stop_after_steps` test hook, or by `request`."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name

    def request(self, reason: str) -> None:
        self.signal_name = reason


@contextmanager
def sigterm_sets(flag: StopFlag) -> Iterator[None]:
    """SIGTERM sets `flag` instead of killing the process (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, flag)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def isolated_probe(model: torch.nn.Module, device: torch.device) -> Iterator[None]:
    """Run a probe without touching what training depends on, so the checkpoint does not depend on the probe
    schedule: eval mode (no dropout) and no gradients inside; afterwards every module's own train/eval flag and
    the torch (CPU and this device's CUDA), numpy-global and Python `random` generator states are restored."""
    flags = [(module, module.training) for module in model.modules()]
    python_state, numpy_state = random.getstate(), np.random.get_state()
    cuda_devices = (
        [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    )
    try:
        with torch.random.fork_rng(devices=cuda_devices), torch.no_grad():
            model.eval()
            yield
    finally:
        for module, flag in flags:
            module.training = flag
        random.setstate(python_state)
        np.random.set_state(numpy_state)


class TrainingLoop:
    """One run of `training.run.train` (see the module docstring). Construction prepares the run and restores or seeds
    its state; `run()` trains to the end; the parts may also be called one by one (tests)."""

    def __init__(
        self,
        settings: TrainSettings,
        accelerator: Any,
        model: torch.nn.Module,
        examples: Sequence[dict[str, Any]],
        collate_fn: CollateFn,
        loss_fn: LossFn,
        *,
        state_dir: str | Path | None = None,
        probe_fn: ProbeFn | None = None,
        fingerprint_extra: Any = None,
        desc: str = "train",
        lengths: Sequence[int] | None = None,
    ) -> None:
        if not examples:
            raise TrainingError("no training examples")
        self.settings, self.accelerator = settings, accelerator
        self.examples, self.collate_fn, self.loss_fn = examples, collate_fn, loss_fn
        self.state_dir, self.probe_fn, self.desc = state_dir, probe_fn, desc
        self.total_steps = settings.total_steps(len(examples))
        warmup_steps = round(settings.warmup_ratio * self.total_steps)
        fingerprint = canonical_json_hash(
            {"settings": asdict(settings), "n_examples": len(examples), "extra": fingerprint_extra}
        )

        # The order below is part of the determinism contract: what draws from torch's global RNG, and when.
        model.to(accelerator.device)
        model.train()
        optimizer, self.optimizer_impl = make_adamw(
            model, settings.learning_rate, settings.weight_decay, settings.optimizer_impl, accelerator.device
        )
        if settings.group_by_length and lengths is None:
            lengths = character_lengths(examples)
        self.order = ExampleOrder(
            len(examples), settings.seed, settings.batch_size, lengths if settings.group_by_length else None
        )
        self.scheduler = make_scheduler(optimizer, warmup_steps, self.total_steps)
        self.collate_generator = torch.Generator().manual_seed(settings.seed * 1_000_003 + 17)
        self.state = TrainingState(0, 0, 0, 0, float("nan"), 0.0, fingerprint)
        self._restore(model, optimizer)
        self.resumed_from_step = self.state.step
        self.model, self.optimizer = accelerator.prepare(model, optimizer)

        self.probe_steps = settings.probe_steps(self.total_steps)
        self.stop_flag = StopFlag()
        self.rank, self.world = accelerator.process_index, accelerator.num_processes
        self._unchecked: list[tuple[int, torch.Tensor]] = []
        self._token_counter = torch.zeros((), dtype=torch.long, device=accelerator.device)
        self._started = time.perf_counter() - self.state.wall_seconds

    # ------------------------------------------------------------------------------------------------- parts
    def _restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Load the saved state of `state_dir` into the model, optimizer, scheduler and generators, or seed
        dropout etc. on a fresh start (a resumed run restores the saved RNG state instead)."""
        if self.state_dir is not None and (folder := find_state(self.state_dir)) is not None:
            self.state = load_training_state(
                folder, model, optimizer, self.scheduler, self.collate_generator, self.state.fingerprint
            )
            attempt, saved_by = current_attempt(), saved_by_attempt(folder)
            log.info(
                "%sresuming at step %d (data position %d) from the state saved %sin %s",
                f"attempt {attempt}: " if attempt else "",
                self.state.step,
                self.state.position,
                f"by attempt {saved_by} " if saved_by else "",
                folder,
            )
        else:
            torch.manual_seed(self.settings.seed)

    @property
    def unwrapped_model(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def step(self) -> None:
        """One optimizer step over `gradient_accumulation_steps` micro-batches of the example stream."""
        settings, accelerator, state = self.settings, self.accelerator, self.state
        accumulation, micro_batch = settings.gradient_accumulation_steps, settings.batch_size
        micro_losses = []
        for micro in range(accumulation):
            indices = self.order.take(state.position, micro_batch)
            state.position += micro_batch
            local = [self.examples[i] for i in indices[self.rank :: self.world]]
            batch = move_to_device(self.collate_fn(local, self.collate_generator), accelerator.device)
            sync = micro == accumulation - 1
            no_sync = not sync and self.world > 1
            with accelerator.no_sync(self.model) if no_sync else contextlib.nullcontext():
                with accelerator.autocast():
                    loss = self.loss_fn(self.model, batch)
                accelerator.backward(loss / accumulation)
            micro_losses.append(loss.detach().float())
            self._token_counter += count_tokens_tensor(batch, accelerator.device)
            state.examples += len(indices)
        accelerator.clip_grad_norm_(self.model.parameters(), settings.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        state.step += 1
        self.check_losses()  # the previous step's: computed by now
        self._unchecked.append((state.step, torch.stack(micro_losses)))
        state.wall_seconds = time.perf_counter() - self._started

    def check_losses(self) -> None:
        """Raise on a non-finite loss among the steps not yet checked; fold in their loss and tokens."""
        for step_number, losses in self._unchecked:
            values = losses.tolist()
            for micro, value in enumerate(values):
                if not math.isfinite(value):
                    raise TrainingError(
                        f"non-finite loss ({value}) at step {step_number} of {self.total_steps} "
                        f"(micro-batch {micro + 1}/{len(values)}); no checkpoint was written"
                    )
            self.state.last_loss = sum(values) / len(values)
        self._unchecked.clear()
        self.state.tokens += int(self._token_counter) * self.world
        self._token_counter.zero_()

    def probe(self, step: int) -> None:
        """Record the trajectory rows of `step` (no-op without a probe callback)."""
        self.check_losses()
        if self.probe_fn is None:
            return
        started = time.perf_counter()
        unwrapped = self.unwrapped_model
        with isolated_probe(unwrapped, self.accelerator.device):
            rows = self.probe_fn(unwrapped, step)
        self.state.trajectory_rows.extend(rows)
        self.state.probe_seconds += time.perf_counter() - started

    def save(self) -> None:
        """Write the resumable state to `state_dir` (main process; no-op without a state_dir)."""
        self.check_losses()
        if self.state_dir is not None and self.accelerator.is_main_process:
            raw_optimizer = getattr(self.optimizer, "optimizer", self.optimizer)  # accelerate wraps it
            save_training_state(
                self.state_dir, self.unwrapped_model, raw_optimizer, self.scheduler, self.collate_generator, self.state
            )
        self.accelerator.wait_for_everyone()

    def stop_reason(self) -> str | None:
        """Why the run must stop at this step boundary, or None; every process gets the same answer."""
        if self.world > 1:
            # Every process must stop at the same step, or the others block in the next all-reduce.
            stop = torch.tensor([int(self.stop_flag.signal_name is not None)], device=self.accelerator.device)
            if int(self.accelerator.reduce(stop, reduction="sum")) > 0 and self.stop_flag.signal_name is None:
                self.stop_flag.request("SIGTERM (on another process)")
        return self.stop_flag.signal_name

    def preempted(self, reason: str) -> TrainingPreempted:
        attempt = current_attempt()
        where = f"stopped at step {self.state.step} of {self.total_steps}" + (
            f" in attempt {attempt}" if attempt else ""
        )
        if self.state_dir is not None:
            return TrainingPreempted(
                f"received {reason}: {where}, training state saved to {self.state_dir}; rerun the job to resume"
            )
        return TrainingPreempted(f"received {reason}: {where} (no state_dir, nothing saved)")

    def result(self) -> TrainResult:
        return TrainResult(
            steps=self.state.step,
            examples=self.state.examples,
            tokens=self.state.tokens,
            final_loss=self.state.last_loss,
            wall_seconds=time.perf_counter() - self._started,
            resumed_from_step=self.resumed_from_step,
            trajectory_rows=self.state.trajectory_rows,
            probe_seconds=self.state.probe_seconds,
            optimizer_impl=self.optimizer_impl,
        )

    # -------------------------------------------------------------------------------------------------- loop
    def run(self, stop_after_steps: int | None = None) -> TrainResult:
        """Train to the last step; `stop_after_steps` is a test hook: behave as if SIGTERM arrived then."""
        settings, state, total = self.settings, self.state, self.total_steps
        log_every = max(1, total // 20)  # about 20 progress lines in the log file
        if state.step == 0 and not state.trajectory_rows:
            self.probe(0)
        show = self.accelerator.is_main_process and sys.stderr.isatty()
        with tqdm(total=total, initial=state.step, desc=self.desc, disable=not show) as progress:
            with sigterm_sets(self.stop_flag):
                while state.step < total:
                    self.step()
                    progress.update(1)
                    if state.last_loss == state.last_loss:  # not NaN: a loss has been read back
                        progress.set_postfix(loss=f"{state.last_loss:.4f}", refresh=False)
                    if state.step % log_every == 0:
                        self.check_losses()
                        tokens_per_second = state.tokens / max(state.wall_seconds - state.probe_seconds, 1e-9)
                        log.info(
                            "%s: step %d/%d, loss %.4f, %.0f tokens/s",
                            self.desc,
                            state.step,
                            total,
                            state.last_loss,
                            tokens_per_second,
                        )
                    if state.step in self.probe_steps:
                        self.probe(state.step)
                    if stop_after_steps is not None and stop_after_steps <= state.step < total:
                        self.stop_flag.request("stop_after_steps (test hook)")
                    reason = self.stop_reason()
                    if reason is not None and state.step < total:
                        self.save()
                        raise self.preempted(reason)
                    if state.step % settings.checkpoint_every_steps == 0 and state.step < total:
                        self.save()
            self.check_losses()
        self.unwrapped_model.eval()
        return self.result()
