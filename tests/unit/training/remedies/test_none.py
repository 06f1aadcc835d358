"""The built-in remedies are registered, and `none` (fairforget.training.remedies.none) adds nothing."""

from __future__ import annotations

from fairforget.training.plugins import REMEDIES
from objectives_helpers import context, tiny


def test_builtin_remedies_are_registered_and_none_does_nothing():
    assert {"none", "replay", "l2sp", "ewc", "lora"} <= set(REMEDIES.names())
    model, tokenizer = tiny("masked")
    remedy = REMEDIES.get("none")()
    ctx = context("masked", tokenizer)
    assert remedy.prepare_model(model, ctx) is model
    assert remedy.penalty(model, ctx) is None
    assert remedy.transform_examples([{"type": "text", "text": "a"}], ctx) == [{"type": "text", "text": "a"}]
