"""GLUE fine-tuning protocol: a classification (or STS-B regression) head on the checkpoint, trained on the task's
train split, scored on its dev split with the official metric(s).

Full fine-tuning by default; `lora=True` trains LoRA adapters plus the head instead (peft,
`fairforget.training.adapters`). The optimizer and schedule are the engine's (`fairforget.training.optim`): AdamW
with HF Trainer's grouping (no weight decay on biases and norm weights, approximated as "parameters with < 2
dims"), transformers' linear schedule with warm-up, gradient clipping. The seed fixes the head initialisation,
dropout and data order, so a CPU rerun gives bit-identical predictions.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fairforget.downstream.classifier import accepts_token_type_ids, collate, encode_examples, load_classifier
from fairforget.downstream.settings import DownstreamSettings
from fairforget.downstream.tasks import Example, TaskData
from fairforget.errors import TrainingError
from fairforget.metrics.glue import compute_metrics
from fairforget.training.adapters import apply_lora
from fairforget.training.optim import make_adamw, make_scheduler

log = logging.getLogger(__name__)


@dataclass
class FinetuneOutcome:
    predictions: list[float]  # class index (classification) or score (regression) per dev example
    logits: np.ndarray  # raw dev outputs, shape (n_dev, num_labels)
    metrics: dict[str, float]
    train_steps: int
    final_train_loss: float | None  # mean loss over the last min(50, steps) steps


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast_context(device: torch.device, mixed_precision: str) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on GPU only: on CPU it is slow and would make CPU results depend on the setting."""
    if mixed_precision == "bf16" and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _apply_lora(model: torch.nn.Module, settings: DownstreamSettings) -> torch.nn.Module:
    lora = settings.lora
    return apply_lora(
        model,
        r=lora.r,
        alpha=lora.alpha,
        dropout=lora.dropout,
        target_modules=lora.target_modules,
        config_key="downstream.lora",
        sequence_classification=True,
    )


def total_steps(n_train: int, settings: DownstreamSettings) -> int:
    # round first so that e.g. 0.1 epochs x 10 batches is 1 step, not ceil(1.0000000000000002) = 2
    steps = math.ceil(round(settings.epochs * math.ceil(n_train / settings.batch_size), 9))
    return steps if settings.max_steps is None else min(steps, settings.max_steps)


@torch.no_grad()
def predict_logits(
    model: torch.nn.Module,
    tokenizer: Any,
    examples: list[Example],
    settings: DownstreamSettings,
    device: torch.device,
    use_token_type_ids: bool,
    progress: bool = True,
) -> np.ndarray:
    model.eval()
    encoded = encode_examples(tokenizer, examples, settings.max_length)
    outputs = []
    starts = range(0, len(encoded), settings.eval_batch_size)
    for start in tqdm(starts, desc="dev", disable=not progress or not sys.stderr.isatty()):
        batch = collate(tokenizer, encoded[start : start + settings.eval_batch_size], None, False, use_token_type_ids)
        batch = {key: value.to(device) for key, value in batch.items()}
        with autocast_context(device, settings.mixed_precision):
            logits = model(**batch).logits
        outputs.append(logits.float().cpu().numpy())
    return np.concatenate(outputs, axis=0)


def logits_to_predictions(logits: np.ndarray, is_regression: bool) -> list[float]:
    if is_regression:
        return [float(value) for value in logits[:, 0]]
    return [int(index) for index in logits.argmax(axis=1)]


def train_classifier(
    model: torch.nn.Module,
    tokenizer: Any,
    task: TaskData,
    settings: DownstreamSettings,
    seed: int,
    device: torch.device,
    use_token_type_ids: bool,
    progress: bool = True,
) -> tuple[int, float | None]:
    """Train in place; return (optimizer steps taken, mean loss of the last steps)."""
    encoded = encode_examples(tokenizer, task.train, settings.max_length)
    labels = [example.label for example in task.train]
    steps = total_steps(len(encoded), settings)
    if steps == 0:
        return 0, None
    # torch's default AdamW kernel and transformers' warm-up (lr 0 at the first step), as bias-bench's run_glue.py
    optimizer, _ = make_adamw(model, settings.learning_rate, settings.weight_decay, impl=None)
    scheduler = make_scheduler(optimizer, math.ceil(settings.warmup_ratio * steps), steps, first_step_at_zero=True)
    generator = torch.Generator().manual_seed(seed)  # data order depends on the seed only
    recent_losses: list[float] = []
    step = 0
    model.train()
    bar = tqdm(total=steps, desc=f"finetune {task.name}", disable=not progress or not sys.stderr.isatty())
    while step < steps:
        order = torch.randperm(len(encoded), generator=generator).tolist()
        for start in range(0, len(order), settings.batch_size):
            if step >= steps:
                break
            indices = order[start : start + settings.batch_size]
            batch = collate(
                tokenizer,
                [encoded[i] for i in indices],
                [labels[i] for i in indices],
                task.is_regression,
                use_token_type_ids,
            )
            batch = {key: value.to(device) for key, value in batch.items()}
            with autocast_context(device, settings.mixed_precision):
                loss = model(**batch).loss
            if not torch.isfinite(loss):
                raise TrainingError(f"downstream task '{task.name}': non-finite loss {loss.item()} at step {step}")
            loss.backward()
            if settings.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            recent_losses = (recent_losses + [loss.item()])[-50:]
            bar.update(1)
            bar.set_postfix(loss=f"{recent_losses[-1]:.4f}")
    bar.close()
    return step, float(np.mean(recent_losses))


def finetune_and_evaluate(
    model_dir: str | Path,
    task: TaskData,
    settings: DownstreamSettings,
    seed: int,
    lora: bool = False,
    device: torch.device | None = None,
    progress: bool = True,
) -> FinetuneOutcome:
    """Fine-tune a fresh head (and the encoder, or LoRA adapters) on task.train; score task.dev."""
    device = device or pick_device()
    model, tokenizer, _ = load_classifier(model_dir, task.num_labels, task.is_regression, seed)
    use_token_type_ids = accepts_token_type_ids(model)
    if lora:
        model = _apply_lora(model, settings)
    model.to(device)
    steps, final_loss = train_classifier(model, tokenizer, task, settings, seed, device, use_token_type_ids, progress)
    log.info("task %s: %d optimizer steps, final train loss %s", task.name, steps, final_loss)
    logits = predict_logits(model, tokenizer, task.dev, settings, device, use_token_type_ids, progress)
    predictions = logits_to_predictions(logits, task.is_regression)
    labels = [example.label for example in task.dev]
    return FinetuneOutcome(
        predictions=predictions,
        logits=logits,
        metrics=compute_metrics(task.metric_names, predictions, labels),
        train_steps=steps,
        final_train_loss=final_loss,
    )
