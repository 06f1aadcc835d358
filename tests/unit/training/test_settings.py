"""The training probe: its schedule (`training.probe_every_steps`, "auto" by default) and that probing never
changes the trained weights (same checkpoint hash whatever the schedule, with or without probes)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from engine_helpers import base_job, finetune_test_job, tiny_model_cfg, write_toy_data
from fairforget.base_models.stage import build_base_model
from fairforget.errors import ConfigError
from fairforget.training.finetune import run_finetune_job
from fairforget.training.settings import AUTO_PROBE_INTERVALS, TrainSettings

torch.set_num_threads(1)

# 24 debiasing texts, batch 4: 6 optimizer steps
TRAIN_CFG = {
    "epochs": 1,
    "batch_size": 4,
    "learning_rate": 0.003,
    "warmup_ratio": 0.1,
    "max_length": 32,
    "checkpoint_every_steps": 100,
    "mixed_precision": "no",
}
RUN = {"model": "tiny", "objective": "none", "remedy": "none", "size": "full", "seed": 1}
PROBE_CFG = {"max_examples": 4, "batch_size": 8, "max_length": 32}


def test_probe_steps_hand_computed() -> None:
    assert AUTO_PROBE_INTERVALS == 10
    auto = TrainSettings()  # the default schedule
    assert auto.probe_every_steps == "auto"
    assert sorted(auto.probe_steps(25)) == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25]  # floor(i * 25 / 10)
    assert sorted(auto.probe_steps(1000)) == list(range(0, 1001, 100))
    assert sorted(auto.probe_steps(7)) == list(range(8))  # a run shorter than 10 steps: every step
    assert len(auto.probe_steps(10)) == 11 and len(auto.probe_steps(12345)) == 11
    assert sorted(TrainSettings(probe_every_steps=10).probe_steps(25)) == [0, 10, 20, 25]
    assert sorted(TrainSettings(probe_every_steps=None).probe_steps(25)) == [0, 25]
    for bad in ("sometimes", 0, True, 2.5):
        with pytest.raises(ConfigError, match="training.probe_every_steps"):
            TrainSettings(probe_every_steps=bad).validate()


@pytest.fixture(scope="module", params=["masked", "causal"])
def base(request, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp(f"base_{request.param}")
    data = write_toy_data(root)
    build_base_model(base_job(root, tiny_model_cfg(request.param)))
    return root, data


def _finetune(
    base: tuple[Path, Path], out: Path, probe_every_steps, probe=PROBE_CFG, probe_fn=None
) -> tuple[str, Path]:
    root, data = base
    training = {**TRAIN_CFG, "probe_every_steps": probe_every_steps}
    manifest = run_finetune_job(finetune_test_job(root, out, RUN, training, probe=probe), probe_fn=probe_fn)
    return manifest["content_hash"], out / "trajectory.parquet"


def _greedy_probe(model: torch.nn.Module, step: int) -> list[dict]:
    """A careless probe: draws from every global generator and leaves the model in eval mode."""
    torch.rand(100)
    random.random()
    np.random.rand(10)
    model.eval()
    return [{"step": step, "probe_set": "general", "item_id": "x", "correct": True}]


def test_probing_does_not_change_the_checkpoint(base: tuple[Path, Path], tmp_path: Path) -> None:
    reference, _ = _finetune(base, tmp_path / "no_probe", None, probe=None)
    every_step, every_path = _finetune(base, tmp_path / "every_step", 1)
    auto, auto_path = _finetune(base, tmp_path / "auto", "auto")
    greedy, _ = _finetune(base, tmp_path / "greedy", 1, probe_fn=_greedy_probe)
    assert every_step == auto == greedy == reference
    # the schedules did differ: 6 steps, probed at every step (and step 0) under both
    assert sorted(pl.read_parquet(every_path)["step"].unique().to_list()) == list(range(7))
    assert sorted(pl.read_parquet(auto_path)["step"].unique().to_list()) == list(range(7))
    sparse, sparse_path = _finetune(base, tmp_path / "sparse", 4)
    assert sparse == reference
    assert sorted(pl.read_parquet(sparse_path)["step"].unique().to_list()) == [0, 4, 6]
