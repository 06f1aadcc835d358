"""Training state files: pickle-free round trip of model/optimizer/RNG, crash-safe swap, fingerprint guard."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from fairforget.errors import TrainingError
from fairforget.training.state import (
    CURRENT,
    METADATA,
    TENSORS,
    TrainingState,
    clear_state,
    find_state,
    flatten_optimizer_state,
    load_training_state,
    save_training_state,
    unflatten_optimizer_state,
)


def _objects(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    generator = torch.Generator().manual_seed(seed)
    return model, optimizer, scheduler, generator


def _step(model, optimizer, scheduler) -> None:
    loss = model(torch.ones(2, 4)).pow(2).sum()
    loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()


def test_round_trip_restores_everything(tmp_path: Path) -> None:
    model, optimizer, scheduler, generator = _objects(0)
    for _ in range(3):
        _step(model, optimizer, scheduler)
    torch.rand(5, generator=generator)
    random.seed(7)
    np.random.seed(8)
    state = TrainingState(
        3, 24, 100, 24, 0.5, 1.0, "abc", [{"step": 0, "probe_set": "general", "item_id": "a:1", "correct": True}]
    )
    save_training_state(tmp_path, model, optimizer, scheduler, generator, state)
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.pkl"))
    assert all(isinstance(t, torch.Tensor) for t in load_file(str(tmp_path / CURRENT / TENSORS)).values())
    expected_next = (torch.rand(3, generator=generator), random.random(), np.random.rand(), torch.rand(2))
    reference_model, reference_optimizer = model, optimizer

    model, optimizer, scheduler, generator = _objects(1)  # different weights and RNG: all must be overwritten
    random.seed(0)
    np.random.seed(0)
    loaded = load_training_state(find_state(tmp_path), model, optimizer, scheduler, generator, "abc")
    assert (loaded.step, loaded.position, loaded.tokens, loaded.trajectory_rows) == (3, 24, 100, state.trajectory_rows)
    for a, b in zip(model.parameters(), reference_model.parameters()):
        assert torch.equal(a, b)
    assert scheduler.last_epoch == 3 and optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 4)
    tensors, meta = flatten_optimizer_state(optimizer.state_dict())
    ref_tensors, _ = flatten_optimizer_state(reference_optimizer.state_dict())
    assert tensors.keys() == ref_tensors.keys() and all(torch.equal(tensors[k], ref_tensors[k]) for k in tensors)
    assert unflatten_optimizer_state(tensors, meta)["state"].keys() == optimizer.state_dict()["state"].keys()
    # a torch generator, torch, python and numpy RNG continue exactly where they were saved (the torch global
    # RNG was saved after the seed draw above, so its continuation matches the reference draw order)
    got = (torch.rand(3, generator=generator), random.random(), np.random.rand())
    assert torch.equal(got[0], expected_next[0]) and got[1] == expected_next[1] and got[2] == expected_next[2]


def test_fingerprint_mismatch_is_refused(tmp_path: Path) -> None:
    model, optimizer, scheduler, generator = _objects(0)
    save_training_state(tmp_path, model, optimizer, scheduler, generator, TrainingState(1, 8, 0, 8, 0.1, 0.0, "one"))
    with pytest.raises(TrainingError, match="different settings or data"):
        load_training_state(find_state(tmp_path), model, optimizer, scheduler, generator, "two")


def test_interrupted_swap_falls_back_to_previous_state(tmp_path: Path) -> None:
    model, optimizer, scheduler, generator = _objects(0)
    save_training_state(tmp_path, model, optimizer, scheduler, generator, TrainingState(1, 8, 0, 8, 0.1, 0.0, "f"))
    # a kill between the two renames: the good state sits in checkpoint.old, a partial one in checkpoint.tmp
    (tmp_path / CURRENT).rename(tmp_path / f"{CURRENT}.old")
    (tmp_path / f"{CURRENT}.tmp").mkdir()
    (tmp_path / f"{CURRENT}.tmp" / METADATA).write_text("{")
    assert find_state(tmp_path) == tmp_path / f"{CURRENT}.old"
    save_training_state(tmp_path, model, optimizer, scheduler, generator, TrainingState(2, 16, 0, 16, 0.1, 0.0, "f"))
    assert find_state(tmp_path) == tmp_path / CURRENT
    assert sorted(p.name for p in tmp_path.iterdir()) == [CURRENT]
    clear_state(tmp_path)
    assert not tmp_path.exists() and find_state(tmp_path) is None
