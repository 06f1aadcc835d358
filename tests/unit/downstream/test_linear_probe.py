"""The linear-probe protocol (fairforget.downstream.linear_probe): the fit solves its stated objective, the
features are per-example means that padding does not change, a linearly present signal is found, and nothing
in it is random."""

from __future__ import annotations

import pytest
import torch

from downstream_helpers import contains_good_records, good_task_dir, tiny_models, write_task  # noqa: F401
from fairforget.downstream.classifier import accepts_token_type_ids, ensure_pad_token
from fairforget.downstream.linear_probe import fit_linear, pooled_features, probe_and_evaluate, standardise
from fairforget.downstream.settings import parse_settings
from fairforget.downstream.tasks import Example, load_task
from fairforget.models.modeldir import load_model_dir

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _features(n: int, d: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((n, d), generator=generator, dtype=torch.float64)


def test_least_squares_fit_is_the_closed_form_ridge_solution():
    """Mean squared error + l2 / 2 * ||w||^2 (bias free) on centred features: the weights solve
    (2 X'X / n + l2 I) w = 2 X'(y - mean y) / n and the bias is the mean of y (to L-BFGS's tolerance)."""
    x, _ = standardise(_features(80, 5, 0), _features(3, 5, 1))
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0], dtype=torch.float64) + 0.7 + 0.1 * _features(80, 1, 2)[:, 0]
    l2 = 0.3
    weights, bias, iterations = fit_linear(x, y, 1, True, l2, max_iter=200)
    n = x.shape[0]
    expected = torch.linalg.solve(
        2 * x.T @ x / n + l2 * torch.eye(5, dtype=torch.float64), 2 * x.T @ (y - y.mean()) / n
    )
    assert torch.allclose(weights[:, 0], expected, atol=1e-6)
    assert bias.item() == pytest.approx(y.mean().item(), abs=1e-6)
    assert 0 < iterations <= 200


def test_logistic_fit_meets_the_optimality_conditions():
    """At the optimum of mean cross-entropy + l2 / 2 * ||W||^2 the gradient vanishes:
    X'(softmax(XW + b) - onehot) / n + l2 W = 0 and the residuals sum to 0 per class (the free bias)."""
    x = _features(120, 4, 3)
    labels = (x[:, 0] + 0.5 * x[:, 1] + 0.8 * _features(120, 1, 4)[:, 0] > 0).long() + (x[:, 2] > 1.0).long()
    l2 = 0.05
    weights, bias, _ = fit_linear(x, labels, 3, False, l2, max_iter=500)
    residual = torch.softmax(x @ weights + bias, dim=1) - torch.nn.functional.one_hot(labels, 3).double()
    assert torch.allclose(x.T @ residual / 120 + l2 * weights, torch.zeros_like(weights), atol=1e-6)
    assert torch.allclose(residual.sum(dim=0), torch.zeros(3, dtype=torch.float64), atol=1e-5)
    assert weights.abs().max() > 0.1  # a real fit, not the zero start


def test_standardise_uses_the_training_split_only_and_keeps_constant_features_finite():
    train = torch.tensor([[1.0, 5.0], [3.0, 5.0]], dtype=torch.float64)
    dev = torch.tensor([[2.0, 6.0]], dtype=torch.float64)
    train_z, dev_z = standardise(train, dev)
    assert torch.equal(train_z, torch.tensor([[-1.0, 0.0], [1.0, 0.0]], dtype=torch.float64))
    assert torch.equal(dev_z, torch.tensor([[0.0, 1.0]], dtype=torch.float64))


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_features_are_token_means_that_padding_does_not_change(kind, tiny_models):
    loaded = load_model_dir(tiny_models[kind][0])
    tokenizer = loaded.tokenizer
    ensure_pad_token(tokenizer, "tiny")
    encoder = loaded.model.base_model.eval()
    use_types = accepts_token_type_ids(encoder)
    short = Example("s", "good film", None, 1)
    long = Example("l", "the movie was very good and the plot was quite good", None, 1)
    alone = pooled_features(encoder, tokenizer, [short], 32, 8, use_types)
    padded = pooled_features(encoder, tokenizer, [long, short], 32, 8, use_types)
    assert alone.dtype == torch.float64 and alone.shape == (1, loaded.model.config.hidden_size)
    assert torch.allclose(padded[1], alone[0], atol=1e-5)  # the short one padded to the long one's length
    ids = tokenizer(["good film"], return_tensors="pt")
    with torch.no_grad():
        hidden = encoder(**ids).last_hidden_state[0].double()
    assert torch.allclose(alone[0], hidden.mean(dim=0), atol=1e-6)


@pytest.mark.learned(same_on_kernel_paths=True)
@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_the_probe_finds_a_linearly_present_word_and_is_deterministic(kind, tiny_models, tmp_path):
    """Whether a text contains 'good' is a linear function of its mean-pooled features whenever the token's
    contribution survives the random tiny encoder; the probe reads it off the frozen features (no training of the
    model). Nothing random, so no seeds to measure over: dev accuracy 1.0 for both kinds, and the predictions of
    both fits identical, on the default, avx2 and avx512 kernel paths (2026-12-08), so not rerun on the default
    path (tests/project/test_learned_kernel_paths.py)."""
    task_dir = write_task(tmp_path, "sst2", contains_good_records(128, 1, "train"), contains_good_records(40, 2, "dev"))
    task = load_task(task_dir, "sst2")
    model_dir, _ = tiny_models[kind]
    settings = parse_settings({"max_length": 32})
    first = probe_and_evaluate(model_dir, task, settings)
    again = probe_and_evaluate(model_dir, task, settings)
    assert first.predictions == again.predictions and first.metrics == again.metrics  # nothing random
    assert first.metrics["accuracy"] >= 0.9, first.metrics
    assert first.train_metrics["accuracy"] >= first.metrics["accuracy"] - 0.1
    assert 0 < first.iterations <= settings.linear_probe.max_iter
    # the same texts labelled by their place in the shuffled list (index // 2 % 2), unrelated to the text: the probe
    # cannot read such labels off the dev texts; measured 0.6 for both kinds (40 dev texts)
    unrelated = [
        {**record, "label": index // 2 % 2} for index, record in enumerate(contains_good_records(128, 1, "train"))
    ]
    noise_dir = write_task(tmp_path / "noise", "sst2", unrelated, contains_good_records(40, 2, "dev"))
    noise = probe_and_evaluate(model_dir, load_task(noise_dir, "sst2"), settings)
    assert noise.metrics["accuracy"] <= 0.75, noise.metrics
