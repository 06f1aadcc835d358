"""Objectives and remedies driven by the real training engine: deterministic reruns, exact resume with LoRA
adapters, and a finalized model that saves as a plain model directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fairforget.models.modeldir import save_model_dir
from fairforget.training.loop import TrainingPreempted
from fairforget.training.plugins import OBJECTIVES, REMEDIES
from fairforget.training.run import Hooks, RunOptions, TrainJob, make_accelerator, train
from fairforget.training.settings import TrainSettings
from objectives_helpers import context, tiny

torch.set_num_threads(1)
SETTINGS = dict(epochs=1, batch_size=4, learning_rate=0.01, warmup_ratio=0.0, checkpoint_every_steps=100)


def _train(
    tmp: Path,
    name: str,
    kind: str,
    objective: str,
    remedy: str,
    objective_params=None,
    remedy_params=None,
    stop_after: int | None = None,
):
    model, tokenizer = tiny(kind, seed=1)
    ctx = context(kind, tokenizer, seed=2, mlm_probability=0.3)
    options = RunOptions(state_dir=tmp / f"state_{name}", stop_after_steps=stop_after)
    settings = TrainSettings(seed=2, **SETTINGS)
    model, result = train(
        TrainJob(model, ctx, settings, make_accelerator(settings), options),
        Hooks(OBJECTIVES.get(objective)(**(objective_params or {})), REMEDIES.get(remedy)(**(remedy_params or {}))),
    )
    manifest = save_model_dir(model, tokenizer, tmp / name, kind)
    return manifest, result, model


@pytest.mark.parametrize(
    ("kind", "objective", "remedy", "objective_params", "remedy_params"),
    [
        ("masked", "counterfactual_consistency", "ewc", {"weight": 1.0}, {"fisher_samples": 3}),
        ("causal", "cda", "l2sp", {"sided": "one"}, {"weight": 0.1}),
        ("masked", "dropout", "replay", {}, {"ratio": 1.0}),
        ("masked", "unlikelihood", "none", {}, {}),
    ],
)
def test_rerun_is_bit_identical(tmp_path, kind, objective, remedy, objective_params, remedy_params):
    first, result, model = _train(tmp_path, "a", kind, objective, remedy, objective_params, remedy_params)
    second, _, _ = _train(tmp_path, "b", kind, objective, remedy, objective_params, remedy_params)
    assert result.steps >= 2
    assert first["content_hash"] == second["content_hash"]
    untrained, tokenizer = tiny(kind, seed=1)
    assert save_model_dir(untrained, tokenizer, tmp_path / "untrained", kind)["content_hash"] != first["content_hash"]
    if objective == "dropout":
        assert model.config.hidden_dropout_prob == 0.1  # restored before saving


def test_lora_run_resumes_exactly_and_saves_a_plain_model(tmp_path):
    reference, _, model = _train(tmp_path, "ref", "causal", "unlikelihood", "lora", remedy_params={"r": 2})
    assert type(model).__name__ == "LlamaForCausalLM"
    assert not any("lora" in name for name in model.state_dict())
    with pytest.raises(TrainingPreempted):
        _train(tmp_path, "resumed", "causal", "unlikelihood", "lora", remedy_params={"r": 2}, stop_after=1)
    resumed, result, _ = _train(tmp_path, "resumed", "causal", "unlikelihood", "lora", remedy_params={"r": 2})
    assert result.resumed_from_step == 1
    assert resumed["content_hash"] == reference["content_hash"]
