"""The optimizer and schedule (fairforget.training.optim): parameter groups, AdamW kernels, the schedule by hand."""

from __future__ import annotations

import pytest

from engine_helpers import Affine
from fairforget.training.optim import linear_schedule, make_adamw, make_scheduler, parameter_groups


# ------------------------------------------------------------------------------------ shared optimizer helpers
def test_parameter_groups_put_no_decay_on_vectors_and_drop_empty_groups():
    model = Affine()
    groups = parameter_groups(model, 0.1)
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert [len(g["params"]) for g in groups] == [1, 1]
    model.bias.requires_grad_(False)
    assert [g["weight_decay"] for g in parameter_groups(model, 0.1)] == [0.1]


def test_make_adamw_kernels():
    optimizer, used = make_adamw(Affine(), 0.1, 0.0, impl=None)
    assert used == "default" and optimizer.defaults["foreach"] is None and not optimizer.defaults["fused"]
    assert make_adamw(Affine(), 0.1, 0.0, impl="for_loop")[1] == "for_loop"
    with pytest.raises(ValueError, match="optimizer kernel"):
        make_adamw(Affine(), 0.1, 0.0, impl="fast")


def test_engine_schedule_by_hand():
    factor = linear_schedule(warmup_steps=2, total_steps=6)
    assert [factor(s) for s in range(7)] == [1 / 3, 2 / 3, 1.0, 0.75, 0.5, 0.25, 0.0]


def test_first_step_at_zero_schedule_is_transformers_linear_warmup():
    from transformers import get_linear_schedule_with_warmup

    for warmup, total in ((0, 5), (2, 6), (3, 3), (1, 10)):
        ours = make_scheduler(make_adamw(Affine(), 1.0, 0.0, None)[0], warmup, total, first_step_at_zero=True)
        theirs = get_linear_schedule_with_warmup(make_adamw(Affine(), 1.0, 0.0, None)[0], warmup, total)
        for _ in range(total + 1):
            assert ours.get_last_lr() == theirs.get_last_lr()
            ours.optimizer.step()
            theirs.optimizer.step()
            ours.step()
            theirs.step()
