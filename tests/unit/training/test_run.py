"""Engine: determinism, exact resume after interruption (hook and real SIGTERM), NaN handling, schedule."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from engine_helpers import MeanSquaredLogits, engine_setup, train_tiny
from fairforget.errors import ConfigError, TrainingError
from fairforget.models.modeldir import MANIFEST, save_model_dir
from fairforget.training.loop import TrainingPreempted
from fairforget.training.optim import linear_schedule
from fairforget.training.order import example_stream_indices
from fairforget.training.settings import TrainSettings
from fairforget.training.state import find_state

torch.set_num_threads(1)


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_rerun_from_scratch_is_bit_identical(tmp_path: Path, kind: str) -> None:
    first, result = train_tiny(tmp_path, "a", kind)
    second, _ = train_tiny(tmp_path, "b", kind)
    assert first["content_hash"] == second["content_hash"]
    assert result.steps == 8  # 2 epochs x 32 texts / (4 x 2 per step)
    # training changed the weights: a different init seed would be needed for the hashes to agree otherwise
    untrained = save_model_dir(engine_setup(kind)[1], engine_setup(kind)[0], tmp_path / "untrained", kind)
    assert untrained["content_hash"] != first["content_hash"]


@pytest.mark.parametrize("stop_after", [5])  # neither a checkpoint (3) nor a probe (2) boundary
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path: Path, stop_after: int) -> None:
    reference, ref_result = train_tiny(tmp_path, "ref")
    with pytest.raises(TrainingPreempted, match=f"stopped at step {stop_after} of 8"):
        train_tiny(tmp_path, "resumed", stop_after=stop_after)
    assert find_state(tmp_path / "state_resumed") is not None
    assert not (tmp_path / "resumed" / MANIFEST).exists()
    resumed, result = train_tiny(tmp_path, "resumed")
    assert result.resumed_from_step == stop_after
    assert resumed["content_hash"] == reference["content_hash"]
    assert result.trajectory_rows == ref_result.trajectory_rows
    assert [r["step"] for r in result.trajectory_rows] == [0, 2, 4, 6, 8]
    assert result.final_loss == ref_result.final_loss


def test_resume_refuses_state_from_other_settings(tmp_path: Path) -> None:
    with pytest.raises(TrainingPreempted):
        train_tiny(tmp_path, "x", stop_after=3)
    with pytest.raises(TrainingError, match="different settings"):
        train_tiny(tmp_path, "x", learning_rate=0.02)


class NaNAtThirdStep(MeanSquaredLogits):
    calls = 0

    def loss(self, model, batch, ctx):
        self.calls += 1
        loss = super().loss(model, batch, ctx)
        return loss * float("nan") if self.calls == 5 else loss  # micro-batch 5 = step 3, first micro-batch


def test_nan_loss_raises_naming_the_step(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=r"non-finite loss \(nan\) at step 3 of 8 \(micro-batch 1/2\)"):
        train_tiny(tmp_path, "nan", objective=NaNAtThirdStep())
    assert not (tmp_path / "nan").exists()


def test_schedule_and_stream() -> None:
    factor = linear_schedule(warmup_steps=2, total_steps=6)
    values = [factor(s) for s in range(7)]
    assert values[0] < values[1] < values[2] == 1.0
    assert values[2] > values[3] > values[4] > values[5] > values[6] == 0.0
    stream = example_stream_indices(5, seed=1, start=0, count=10)
    assert sorted(stream[:5]) == list(range(5)) and sorted(stream[5:]) == list(range(5))
    assert stream[:5] != stream[5:] or stream[:5] == sorted(stream[:5])  # epochs reshuffle (or identity by chance)
    assert example_stream_indices(5, seed=1, start=3, count=4) == stream[3:7]


def test_bad_settings_name_the_key() -> None:
    with pytest.raises(ConfigError, match="config key 'training.mixed_precision'"):
        TrainSettings.from_config({"mixed_precision": "fp8"}, seed=0)
    with pytest.raises(ConfigError, match="config key 'models.x.pretrain.batch_size'"):
        TrainSettings.from_config({"batch_size": 0}, seed=0, key="models.x.pretrain")


SUBPROCESS_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    import torch
    torch.set_num_threads(1)
    from engine_helpers import MeanSquaredLogits, train_tiny

    class Slow(MeanSquaredLogits):
        def loss(self, model, batch, ctx):
            print("STEP", flush=True)  # the parent waits for this before signalling
            time.sleep(0.3)
            return super().loss(model, batch, ctx)

    train_tiny(Path({tmp!r}), "killed", objective=Slow())
    """
)


def test_real_sigterm_saves_state_and_resume_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reference, _ = train_tiny(tmp_path, "ref")
    script = SUBPROCESS_SCRIPT.format(tests=str(Path(__file__).parents[2]), tmp=str(tmp_path))
    # the attempt as a rule script passes it on (fairforget.workflow.logs): the state records who saved it
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FAIRFORGET_ATTEMPT": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    seen = 0
    deadline = time.monotonic() + 120
    while seen < 3 and time.monotonic() < deadline:  # let it get into step 2 (2 micro-batches per step)
        if proc.stdout.readline().startswith("STEP"):
            seen += 1
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "received SIGTERM: stopped at step" in stderr and "in attempt 1, training state saved" in stderr
    assert find_state(tmp_path / "state_killed") is not None
    monkeypatch.setenv("FAIRFORGET_ATTEMPT", "2")
    with caplog.at_level(logging.INFO, logger="fairforget.training.loop"):
        resumed, result = train_tiny(tmp_path, "killed")
    assert 1 <= result.resumed_from_step < 8
    assert f"attempt 2: resuming at step {result.resumed_from_step} " in caplog.text
    assert "from the state saved by attempt 1 in" in caplog.text
    assert resumed["content_hash"] == reference["content_hash"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU device's warning")
def test_bf16_on_a_cpu_without_bf16_instructions_warns(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    """Found by the paper rehearsal: on an AVX2-only CPU, bf16 autocast is emulated and bert-base trained about 35x
    slower than in fp32, silently. make_accelerator now says so, and only there."""
    from fairforget.training import run

    def cpu(bf16: bool, amx: bool) -> None:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)

    def warned(precision: str) -> bool:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=run.__name__):
            run.make_accelerator(TrainSettings(mixed_precision=precision))
        return "without bf16 instructions" in caplog.text

    cpu(bf16=False, amx=False)
    assert not run.cpu_has_native_bf16()
    assert warned("bf16")
    assert not warned("no")
    for bf16, amx in ((True, False), (False, True)):
        cpu(bf16=bf16, amx=amx)
        assert run.cpu_has_native_bf16()
        assert not warned("bf16")
