"""Zero-shot multiple-choice evaluation of a causal LM, as lm-evaluation-harness scores `multiple_choice` tasks.

For each dev example and each answer choice, the log-likelihood of the continuation " " + choice after the
prompt is log P(choice tokens | prompt), summed over the choice's tokens. Tokenisation follows the harness:
the continuation's tokens are those of tokenize(prompt + continuation) after the tokens of tokenize(prompt),
without special tokens; BOS is prepended when `downstream.zeroshot.add_bos` (harness default: no BOS).
Over-long inputs keep their last `max_length` tokens (left truncation, as the harness does).
Predictions: `accuracy` uses argmax of the summed log-likelihood, `accuracy_norm` (harness acc_norm) the
argmax of log-likelihood divided by the choice's length in characters.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from fairforget.downstream.classifier import ensure_pad_token
from fairforget.downstream.finetune import autocast_context, pick_device
from fairforget.downstream.prompts import template_for
from fairforget.downstream.settings import DownstreamSettings
from fairforget.downstream.tasks import TaskData
from fairforget.errors import ConfigError, DataError
from fairforget.io import read_json
from fairforget.metrics.glue import accuracy, compute_metrics
from fairforget.models.modeldir import MANIFEST, load_model_dir
from fairforget.scoring.causal import causal_position_logits
from fairforget.scoring.scores import eval_mode, pad_batch


@dataclass(frozen=True)
class ChoiceRequest:
    example_index: int
    choice_index: int
    tokens: tuple[int, ...]  # the whole (truncated) sequence: [bos] + prompt + continuation
    n_continuation: int  # the last n_continuation tokens are scored


@dataclass
class ZeroshotOutcome:
    loglikelihoods: np.ndarray  # (n_dev, n_choices), summed over each choice's tokens
    predictions: list[int]
    predictions_norm: list[int]
    metrics: dict[str, float]


def encode_request(
    tokenizer: Any, context: str, continuation: str, add_bos: bool, max_length: int, where: str
) -> tuple[tuple[int, ...], int]:
    """Token ids of [bos] + context + continuation and how many of them belong to the continuation."""
    trailing = len(context) - len(context.rstrip())
    if trailing:  # the harness moves trailing spaces from the context into the continuation
        continuation = context[-trailing:] + continuation
        context = context[:-trailing]
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    continuation_ids = whole[len(context_ids) :]
    if not continuation_ids:
        raise DataError(f"{where}: continuation {continuation!r} has no tokens")
    prefix = [tokenizer.bos_token_id] if add_bos and tokenizer.bos_token_id is not None else []
    tokens = prefix + whole
    if len(continuation_ids) >= max_length:
        raise ConfigError(f"config key 'downstream.max_length': {max_length} leaves no room for the prompt of {where}")
    return tuple(tokens[-(max_length + 1) :]), len(continuation_ids)


def build_requests(tokenizer: Any, task: TaskData, add_bos: bool, max_length: int) -> list[ChoiceRequest]:
    template = template_for(task)
    requests = []
    for example_index, example in enumerate(task.dev):
        where = f"task '{task.name}' dev example {example.id!r}"
        context = template.prompt(example, where)
        for choice_index, choice in enumerate(template.choices):
            tokens, n_cont = encode_request(tokenizer, context, " " + choice, add_bos, max_length, where)
            requests.append(ChoiceRequest(example_index, choice_index, tokens, n_cont))
    return requests


def score_requests(
    model: torch.nn.Module,
    requests: list[ChoiceRequest],
    batch_size: int,
    pad_id: int,
    device: torch.device,
    mixed_precision: str = "no",
    progress: bool = True,
) -> np.ndarray:
    """Summed log P(continuation | context) per request, in request order.

    The model reads all tokens of a request but the last. Requests with the same model input share one row: the
    choices of an example whose continuations are one token each (SST-2's " negative" / " positive") are read
    off a single forward pass of the prompt. Rows are batched longest first (little padding) under
    `torch.inference_mode`, and the LM head runs on the scored positions only
    (fairforget.scoring.causal.causal_position_logits), not on every position of the padded batch.
    """
    rows: dict[tuple[int, ...], int] = {}
    requests_of_row: list[list[int]] = []
    for index, request in enumerate(requests):
        row = rows.setdefault(request.tokens[:-1], len(rows))
        if row == len(requests_of_row):
            requests_of_row.append([])
        requests_of_row[row].append(index)
    inputs = list(rows)  # row index -> model input (dicts keep insertion order)
    order = sorted(range(len(inputs)), key=lambda row: -len(inputs[row]))
    scores = np.zeros(len(requests), dtype=np.float64)
    starts = range(0, len(order), batch_size)
    with eval_mode([model]):
        for start in tqdm(starts, desc="zero-shot", disable=not progress or not sys.stderr.isatty()):
            chunk = order[start : start + batch_size]
            ids, attention = pad_batch([np.asarray(inputs[row], dtype=np.int64) for row in chunk], pad_id)
            cells: list[np.ndarray] = []
            targets: list[int] = []
            owners: list[int] = []
            for slot, row in enumerate(chunk):
                n_inputs = len(inputs[row])
                for index in requests_of_row[row]:
                    request = requests[index]
                    # token t + 1 is predicted at position t: the continuation at the last n_continuation inputs
                    cells.append(slot * ids.shape[1] + np.arange(n_inputs - request.n_continuation, n_inputs))
                    targets.extend(request.tokens[-request.n_continuation :])
                    owners.extend([index] * request.n_continuation)
            cell_index = torch.from_numpy(np.concatenate(cells)).to(device)
            with autocast_context(device, mixed_precision):
                logits = causal_position_logits(model, ids.to(device), attention.to(device), cell_index)
            # normalised on the scored positions only: a [batch, length, vocab] log-softmax would need gigabytes
            log_probs = torch.log_softmax(logits.double(), dim=-1)
            picked = log_probs[torch.arange(len(targets), device=log_probs.device), torch.tensor(targets)]
            np.add.at(scores, np.asarray(owners), picked.cpu().numpy())
    return scores


def choose_answers(loglikelihoods: np.ndarray, choices: tuple[str, ...]) -> tuple[list[int], list[int]]:
    """Argmax of the log-likelihoods (acc) and of log-likelihood per character of the choice (acc_norm)."""
    choice_chars = np.array([len(choice) for choice in choices], dtype=np.float64)
    predictions = [int(i) for i in loglikelihoods.argmax(axis=1)]
    predictions_norm = [int(i) for i in (loglikelihoods / choice_chars).argmax(axis=1)]
    return predictions, predictions_norm


def zeroshot_evaluate(
    model_dir: str | Path,
    task: TaskData,
    settings: DownstreamSettings,
    device: torch.device | None = None,
    progress: bool = True,
) -> ZeroshotOutcome:
    """Score every dev example's choices with the causal LM in `model_dir` (verified first)."""
    device = device or pick_device()
    kind = read_json(Path(model_dir) / MANIFEST).get("kind") if (Path(model_dir) / MANIFEST).is_file() else None
    if kind is not None and kind != "causal":
        raise ConfigError(
            f"{model_dir}: zero-shot mode needs a causal LM, this is a {kind} model "
            "(config key downstream.mode.masked must be finetune or lora)"
        )
    loaded = load_model_dir(model_dir, dtype=torch.float32)  # verifies the manifest's hashes
    template = template_for(task)
    tokenizer = loaded.tokenizer
    ensure_pad_token(tokenizer, model_dir)  # pads are masked out; any id will do
    requests = build_requests(tokenizer, task, settings.zeroshot.add_bos, settings.max_length)
    model = loaded.model.to(device)
    flat = score_requests(
        model, requests, settings.eval_batch_size, tokenizer.pad_token_id, device, settings.mixed_precision, progress
    )
    loglikelihoods = flat.reshape(len(task.dev), len(template.choices))
    predictions, predictions_norm = choose_answers(loglikelihoods, template.choices)
    labels = [int(example.label) for example in task.dev]
    metrics = compute_metrics(task.metric_names, predictions, labels)
    metrics["accuracy_norm"] = accuracy(predictions_norm, labels)
    return ZeroshotOutcome(loglikelihoods, predictions, predictions_norm, metrics)
