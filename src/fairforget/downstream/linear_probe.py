"""Linear probe of frozen features: what a checkpoint's representations still hold for a GLUE task.

The checkpoint is not trained. Each example (a sentence pair joined the tokenizer's way, as the fine-tuning
protocol encodes it) is encoded once by the frozen model; its feature is the mean of the last layer's hidden
states over its tokens (mean pooling, as SentEval's bag-of-vectors baselines and Sentence-BERT pool; the same rule
for masked and causal models). The features are standardised with the training split's mean and standard
deviation, and a linear model is fitted on the training split by full-batch L-BFGS in float64: multinomial
logistic regression for classification, least squares for regression (STS-B); both with the L2 penalty
`l2 / 2 * ||W||^2` added to the mean loss (the bias is not penalised). SentEval (Conneau & Kiela 2018) evaluates
frozen sentence representations this way; linear probes of frozen features are the usual measure of what
fine-tuning leaves of a representation (Alain & Bengio 2016; Davari et al. 2022 on representation forgetting;
Kumar et al. 2022 on linear probing against fine-tuning). docs/metrics.md, section 12.

Nothing is random: the fit starts from zero weights, so the predictions depend on the checkpoint, the task files
and the settings only (no seed), and a CPU rerun is bit-identical. A forward pass per example and a fit on
`hidden_size` features cost a small fraction of fine-tuning the whole model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from fairforget.downstream.classifier import accepts_token_type_ids, collate, encode_examples, ensure_pad_token
from fairforget.downstream.settings import DownstreamSettings
from fairforget.downstream.tasks import Example, TaskData
from fairforget.errors import TrainingError
from fairforget.metrics.glue import compute_metrics
from fairforget.models.modeldir import load_model_dir
from fairforget.scoring.scores import eval_mode


@dataclass
class ProbeOutcome:
    predictions: list[float]  # class index (classification) or score (regression) per dev example
    metrics: dict[str, float]
    train_metrics: dict[str, float]  # the same metrics on the training split (how well the probe fits)
    iterations: int  # L-BFGS iterations of the fit


@torch.inference_mode()
def pooled_features(
    encoder: torch.nn.Module,
    tokenizer: object,
    examples: list[Example],
    max_length: int,
    batch_size: int,
    use_token_type_ids: bool,
) -> torch.Tensor:
    """Mean of the encoder's last hidden states over each example's tokens, float64, one row per example."""
    encoded = encode_examples(tokenizer, examples, max_length)
    rows = []
    for start in range(0, len(encoded), batch_size):
        batch = collate(tokenizer, encoded[start : start + batch_size], None, False, use_token_type_ids)
        hidden = encoder(**batch).last_hidden_state.double()
        mask = batch["attention_mask"].unsqueeze(-1).double()
        rows.append((hidden * mask).sum(dim=1) / mask.sum(dim=1))
    return torch.cat(rows) if rows else torch.zeros((0, 0), dtype=torch.float64)


def standardise(train: torch.Tensor, dev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both splits centred and scaled by the training split's per-feature mean and standard deviation (a
    constant feature is centred only)."""
    mean = train.mean(dim=0)
    scale = train.std(dim=0, unbiased=False)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return (train - mean) / scale, (dev - mean) / scale


def fit_linear(
    features: torch.Tensor, targets: torch.Tensor, outputs: int, is_regression: bool, l2: float, max_iter: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(weights [features, outputs], bias [outputs], L-BFGS iterations) of the penalised linear model."""
    weights = torch.zeros((features.shape[1], outputs), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(outputs, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weights, bias],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        outputs_ = features @ weights + bias
        if is_regression:
            loss = torch.nn.functional.mse_loss(outputs_[:, 0], targets)
        else:
            loss = torch.nn.functional.cross_entropy(outputs_, targets)
        loss = loss + 0.5 * l2 * (weights**2).sum()
        loss.backward()
        return loss

    final = optimizer.step(closure)
    if not torch.isfinite(final):
        raise TrainingError(f"linear probe: non-finite loss {float(final)}")
    iterations = int(optimizer.state[optimizer.param_groups[0]["params"][0]].get("n_iter", 0))
    return weights.detach(), bias.detach(), iterations


def _predictions(features: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor, is_regression: bool) -> list:
    outputs = features @ weights + bias
    if is_regression:
        return [float(value) for value in outputs[:, 0]]
    return [int(index) for index in outputs.argmax(dim=1)]


def probe_and_evaluate(model_dir: str | Path, task: TaskData, settings: DownstreamSettings) -> ProbeOutcome:
    """Fit the linear probe on the frozen features of task.train; score task.dev (docstring above)."""
    loaded = load_model_dir(model_dir, dtype=torch.float32)  # verifies the manifest's hashes
    tokenizer = loaded.tokenizer
    ensure_pad_token(tokenizer, model_dir)  # pads are masked out of the mean; any id will do
    encoder = loaded.model.base_model  # the transformer without its LM head
    use_token_type_ids = accepts_token_type_ids(encoder)
    probe = settings.linear_probe
    with eval_mode([encoder]):
        train, dev = (
            pooled_features(
                encoder, tokenizer, split, settings.max_length, settings.eval_batch_size, use_token_type_ids
            )
            for split in (task.train, task.dev)
        )
    train, dev = standardise(train, dev)
    labels = [example.label for example in task.train]
    if task.is_regression:
        targets = torch.tensor(labels, dtype=torch.float64)
    else:
        targets = torch.tensor([int(label) for label in labels], dtype=torch.long)
    outputs = 1 if task.is_regression else task.num_labels
    weights, bias, iterations = fit_linear(train, targets, outputs, task.is_regression, probe.l2, probe.max_iter)
    predictions = _predictions(dev, weights, bias, task.is_regression)
    dev_labels = [example.label for example in task.dev]
    train_predictions = _predictions(train, weights, bias, task.is_regression)
    return ProbeOutcome(
        predictions=predictions,
        metrics=compute_metrics(task.metric_names, predictions, dev_labels),
        train_metrics=compute_metrics(task.metric_names, train_predictions, labels),
        iterations=iterations,
    )
