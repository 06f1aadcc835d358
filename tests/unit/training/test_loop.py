"""The training loop's parts one at a time (step, probe, save/restore, stop), and the optimizer, schedule and LoRA
helpers that the engine and downstream fine-tuning share."""

from __future__ import annotations

import random

import pytest
import torch

from engine_helpers import Affine
from fairforget.errors import TrainingError
from fairforget.training.loop import StopFlag, TrainingLoop, TrainingPreempted
from fairforget.training.run import make_accelerator
from fairforget.training.settings import TrainSettings

torch.set_num_threads(1)

EXAMPLES = [{"x": float(i)} for i in range(12)]


def collate(examples, generator):
    noise = torch.rand(len(examples), 2, generator=generator)
    x = torch.tensor([[e["x"], 1.0] for e in examples]) + noise
    return {"x": x, "input_ids": torch.ones(len(examples), 3, dtype=torch.long)}


def loss_fn(model, batch):
    return ((model(batch["x"]) - 1.0) ** 2).mean()


def make_loop(tmp_path, probe_fn=None, seed=0, **overrides) -> TrainingLoop:
    torch.manual_seed(123)  # the model's own initialisation is the caller's business
    settings = TrainSettings(
        **{
            "epochs": 2,
            "batch_size": 4,
            "gradient_accumulation_steps": 2,
            "learning_rate": 0.05,
            "warmup_ratio": 0.25,
            "checkpoint_every_steps": 100,
            "probe_every_steps": 1,
            "seed": seed,
            **overrides,
        }
    )
    return TrainingLoop(
        settings,
        make_accelerator(settings),
        Affine(),
        EXAMPLES,
        collate,
        loss_fn,
        state_dir=tmp_path / "state",
        probe_fn=probe_fn,
    )


def weights(loop: TrainingLoop) -> list[torch.Tensor]:
    return [p.detach().clone() for p in loop.unwrapped_model.parameters()]


def test_step_consumes_one_accumulated_batch_and_moves_the_weights(tmp_path):
    loop = make_loop(tmp_path)
    before = weights(loop)
    loop.step()
    assert loop.state.step == 1
    assert loop.state.position == loop.state.examples == 8  # batch 4 x accumulation 2
    assert loop.total_steps == 3  # ceil(2 epochs x 12 examples / 8)
    assert any(not torch.equal(a, b) for a, b in zip(before, weights(loop)))
    assert loop.state.last_loss != loop.state.last_loss  # NaN: step 1's losses are read back one step late
    loop.check_losses()
    assert loop.state.last_loss > 0 and loop.state.tokens == 8 * 3


def test_check_losses_names_the_step_of_a_non_finite_loss(tmp_path):
    loop = make_loop(tmp_path)
    loop.loss_fn = lambda model, batch: loss_fn(model, batch) * float("nan")
    loop.step()
    with pytest.raises(TrainingError, match="non-finite loss .* at step 1 of 3"):
        loop.check_losses()


def test_probe_records_rows_and_leaves_weights_flags_and_rng_alone(tmp_path):
    def probe(model, step):
        torch.rand(5)  # draws from the global generator inside the probe
        random.random()
        assert not model.training
        return [{"step": step, "value": float(model.weight.sum())}]

    loop = make_loop(tmp_path, probe_fn=probe)
    state = torch.get_rng_state()
    python_state = random.getstate()
    before = weights(loop)
    loop.probe(0)
    assert loop.state.trajectory_rows == [{"step": 0, "value": 4.0}]
    assert torch.equal(torch.get_rng_state(), state) and random.getstate() == python_state
    assert loop.unwrapped_model.training
    assert all(torch.equal(a, b) for a, b in zip(before, weights(loop)))


def test_save_then_a_new_loop_restores_the_same_point_and_finishes_identically(tmp_path):
    reference_loop = make_loop(tmp_path / "reference")
    reference = reference_loop.run()
    first = make_loop(tmp_path)
    first.step()
    first.save()
    resumed = make_loop(tmp_path)  # finds the saved state in the same state_dir
    assert resumed.resumed_from_step == 1 and resumed.state.position == 8
    assert all(torch.equal(a, b) for a, b in zip(weights(first), weights(resumed)))
    result = resumed.run()
    assert result.resumed_from_step == 1 and result.steps == reference.steps == 3
    assert result.final_loss == reference.final_loss
    assert all(torch.equal(a, b) for a, b in zip(weights(resumed), weights(reference_loop)))


def test_a_restore_refuses_a_state_made_by_other_settings(tmp_path):
    loop = make_loop(tmp_path)
    loop.step()
    loop.save()
    with pytest.raises(TrainingError, match="different settings or data"):
        make_loop(tmp_path, learning_rate=0.01)


def test_stop_request_saves_and_raises_preempted_at_the_next_step_boundary(tmp_path):
    loop = make_loop(tmp_path)
    assert loop.stop_reason() is None
    loop.stop_flag.request("test")
    assert loop.stop_reason() == "test"
    with pytest.raises(TrainingPreempted, match=r"received stop_after_steps \(test hook\): stopped at step 2 of 3"):
        make_loop(tmp_path / "hook").run(stop_after_steps=2)
    assert make_loop(tmp_path / "hook").resumed_from_step == 2


def test_stop_flag_is_set_by_a_signal_handler_call():
    flag = StopFlag()
    flag(15, None)
    assert flag.signal_name == "SIGTERM"
