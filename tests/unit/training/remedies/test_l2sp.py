"""`l2sp` (fairforget.training.remedies.l2sp): zero at the start, the formula after a perturbation."""

from __future__ import annotations

import pytest
import torch

from fairforget.training.plugins import REMEDIES
from objectives_helpers import context, tiny


def _perturb(model, seed=3):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_l2sp_is_zero_at_start_and_matches_the_formula(kind):
    model, tokenizer = tiny(kind)
    ctx = context(kind, tokenizer)
    remedy = REMEDIES.get("l2sp")(weight=0.3)
    start = {name: p.detach().clone() for name, p in model.named_parameters()}
    remedy.prepare_model(model, ctx)
    assert remedy.penalty(model, ctx).item() == 0.0
    _perturb(model)
    expected = 0.15 * sum(((p - start[name]) ** 2).sum() for name, p in model.named_parameters())
    penalty = remedy.penalty(model, ctx)
    assert penalty.item() > 0
    assert torch.allclose(penalty, expected, rtol=1e-5)
    penalty.backward()  # gradient = weight * (theta - theta_0)
    name, param = next(iter(model.named_parameters()))
    assert torch.allclose(param.grad, 0.3 * (param - start[name]), atol=1e-7)
