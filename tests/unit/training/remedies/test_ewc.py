"""`l2sp` and `ewc`: zero at the start, hand-computed after a perturbation; `none`; parameter errors."""

from __future__ import annotations

import random

import pytest
import torch

from fairforget.errors import ConfigError
from fairforget.training import lm
from fairforget.training.plugins import REMEDIES
from objectives_helpers import GENERAL_TEXTS, context, tiny

torch.set_num_threads(1)


def _perturb(model, seed=3):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))


@pytest.mark.parametrize(
    ("name", "params", "key"),
    [
        ("l2sp", {"weight": -1}, "remedies.l2sp.params.weight"),
        ("ewc", {"fisher_samples": 0}, "remedies.ewc.params.fisher_samples"),
        ("ewc", {"fisher_samples": 2.5}, "remedies.ewc.params.fisher_samples"),
        ("replay", {"ratio": 0}, "remedies.replay.params.ratio"),
        ("lora", {"r": 0}, "remedies.lora.params.r"),
        ("lora", {"target_modules": "query"}, "remedies.lora.params.target_modules"),
        ("none", {"weight": 1}, "remedies.none.params.weight"),
    ],
)
def test_bad_params_name_the_key(name, params, key):
    with pytest.raises(ConfigError, match=key):
        REMEDIES.get(name)(**params)


def _hand_fisher(model, ctx, texts):
    generator_ = torch.Generator().manual_seed(ctx.seed)
    squares = {name: torch.zeros_like(p) for name, p in model.named_parameters()}
    for text in texts:
        model.zero_grad()
        batch = lm.text_batch([text], ctx, generator_)
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
        out.loss.backward()
        for name, p in model.named_parameters():
            if p.grad is not None:
                squares[name] += p.grad**2
    model.zero_grad(set_to_none=True)
    return {name: s / len(texts) for name, s in squares.items()}


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_ewc_fisher_and_penalty_match_hand_computation(kind):
    model, tokenizer = tiny(kind)
    model.eval()
    ctx = context(kind, tokenizer, seed=5, mlm_probability=0.5)
    texts = list(GENERAL_TEXTS)
    random.Random(5).shuffle(texts)
    fisher = _hand_fisher(model, ctx, texts[:4])
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    remedy = REMEDIES.get("ewc")(weight=50.0, fisher_samples=4)
    remedy.prepare_model(model, ctx)
    assert all(p.grad is None for p in model.parameters())
    assert remedy.penalty(model, ctx).item() == 0.0
    assert sum(f.sum() for f in remedy.fisher).item() > 0
    _perturb(model)
    expected = 25.0 * sum((fisher[name] * (p - start[name]) ** 2).sum() for name, p in model.named_parameters())
    penalty = remedy.penalty(model, ctx)
    assert penalty.item() > 0
    assert torch.allclose(penalty, expected, rtol=1e-4)


def test_ewc_is_deterministic_given_the_seed():
    fishers = []
    for _ in range(2):
        model, tokenizer = tiny("masked")
        remedy = REMEDIES.get("ewc")(fisher_samples=3)
        remedy.prepare_model(model, context("masked", tokenizer, seed=2))
        fishers.append(remedy.fisher)
    assert all(torch.equal(a, b) for a, b in zip(*fishers, strict=True))


def test_penalty_pulls_an_optimizer_step_back_toward_the_start():
    model, tokenizer = tiny("causal")
    ctx = context("causal", tokenizer)
    remedy = REMEDIES.get("l2sp")(weight=1.0)
    remedy.prepare_model(model, ctx)
    _perturb(model)
    before = remedy.penalty(model, ctx).item()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    remedy.penalty(model, ctx).backward()
    optimizer.step()
    assert remedy.penalty(model, ctx).item() < before
