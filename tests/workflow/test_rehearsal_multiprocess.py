"""The multi-process path of `finetune` on CPU: the rule's launcher (`accelerate launch --multi_gpu
--num_processes 2`, rules/inputs/finetune.smk) on a node without CUDA joins the two processes into one gloo group
(fairforget.training.run.make_accelerator), trains one run and writes one checkpoint, one manifest and one trajectory;
the result equals the one-process run's (same global batch) within a stated tolerance; a SIGTERM to the launcher
saves the state and a relaunch resumes from it, ending where an uninterrupted 2-process run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest
import torch

from engine_helpers import base_job, finetune_test_job, tiny_model_cfg, write_toy_data
from fairforget.base_models.stage import build_base_model
from fairforget.io import read_json
from fairforget.models.modeldir import MANIFEST, load_model_dir
from fairforget.training.state import find_state

pytestmark = pytest.mark.slow  # starts `accelerate launch` (2 processes): not in the fast tier

# Packed blocks of 16 tokens, as paper.yaml trains cda: every process's share of a batch holds the same number of
# tokens, so the mean of the per-process mean losses is the one-process mean loss (with padded batches of unequal
# token counts it is not: DDP's usual weighting). A global batch of 8 blocks (4 per process with 2), a checkpoint
# every step, 2 epochs.
TRAIN_CFG = {
    "packing": True,
    "block_size": 16,
    "epochs": 2,
    "batch_size": 8,
    "learning_rate": 0.001,
    "warmup_ratio": 0.0,
    "max_length": 32,
    "checkpoint_every_steps": 1,
    "probe_every_steps": 2,
    "mixed_precision": "no",
}
RUN = {"model": "tiny", "objective": "cda", "remedy": "none", "size": "16", "seed": 0}
# gloo sums the two halves' gradients in another order than one process does: float32 rounding, which AdamW's
# normalised steps can carry into parameters whose gradients are near zero; bounded by a tenth of lr per step.
TOLERANCE = 1e-4


def _driver(tmp: Path) -> Path:
    """A script that runs one fine-tuning run from a JSON of arguments; with "slow", each loss prints STEP."""
    script = tmp / "driver.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, sys, time
            sys.path.insert(0, {str(Path(__file__).parents[1])!r})  # the helpers
            import torch
            torch.set_num_threads(1)
            from fairforget.training.finetune import run_finetune_job
            from fairforget.training.job import FinetuneJob
            from fairforget.training.plugins import OBJECTIVES

            args = json.loads(open(sys.argv[1]).read())
            if args["slow"]:
                # the same objective (its settings and code enter the state's fingerprint), paced
                cda = OBJECTIVES.get("cda")
                loss = cda.loss

                def slow_loss(self, model, batch, ctx):
                    print("STEP", flush=True)  # the test waits for these before signalling
                    time.sleep(0.5)
                    return loss(self, model, batch, ctx)

                cda.loss = slow_loss
            run_finetune_job(FinetuneJob.from_json(args["job"]))
            """
        )
    )
    return script


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("mp_base")
    data = write_toy_data(root)
    build_base_model(base_job(root, tiny_model_cfg("causal")))
    return root, data


def _launch(base: tuple[Path, Path], out: Path, processes: int, slow: bool = False) -> subprocess.Popen:
    root, _ = base
    out.mkdir(parents=True, exist_ok=True)
    job = finetune_test_job(
        root,
        out,
        RUN,
        TRAIN_CFG,
        objective={"type": "cda", "params": {"sided": "two"}},
        probe={"max_examples": 4, "batch_size": 8, "max_length": 32},
        state_dir=out / "state",
    )
    args = {"job": job.to_json(), "slow": slow}
    (out / "args.json").write_text(json.dumps(args))
    driver = _driver(out)
    if processes == 1:
        command = [sys.executable, str(driver)]
    else:  # the rule's launcher for models.<name>.gpus: 2 (rules/inputs/finetune.smk)
        command = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            str(driver),
        ]
    env = {k: v for k, v in os.environ.items() if k != "ACCELERATE_USE_CPU"}
    env.update(OMP_NUM_THREADS="1", FAIRFORGET_ATTEMPT="1", CUDA_VISIBLE_DEVICES="")
    return subprocess.Popen(
        [*command, str(out / "args.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _finish(proc: subprocess.Popen) -> str:
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    return stderr


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_model_dir(out / "model").model.state_dict()


def test_two_processes_train_one_run_equal_to_one_process(base: tuple[Path, Path], tmp_path: Path) -> None:
    one, two = _launch(base, tmp_path / "one", 1), None
    _finish(one)
    two = _launch(base, tmp_path / "two", 2)
    _finish(two)
    summary_one, summary_two = (
        read_json(tmp_path / "one" / "summary.json"),
        read_json(tmp_path / "two" / "summary.json"),
    )
    assert summary_two["steps"] == summary_one["steps"] > 2
    assert summary_two["num_processes"] == 2 and summary_one["num_processes"] == 1
    # one checkpoint, one manifest, one sidecar, one trajectory: nothing written twice or per rank
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        ["args.json", "driver.py", "model", "model.sha256", "summary.json", "trajectory.parquet"]
    )
    assert len(list((tmp_path / "two" / "model").glob(MANIFEST))) == 1
    trajectory_one = pl.read_parquet(tmp_path / "one" / "trajectory.parquet")
    trajectory_two = pl.read_parquet(tmp_path / "two" / "trajectory.parquet")
    assert trajectory_two.height == trajectory_one.height  # probes once, not once per process
    ones, twos = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    moved = max((ones[k] - load_model_dir(base[0] / "base").model.state_dict()[k]).abs().max().item() for k in ones)
    worst = max((ones[k] - twos[k]).abs().max().item() for k in ones)
    assert worst <= TOLERANCE, f"2-process run differs from the 1-process run by {worst:.2e} (moved {moved:.2e})"
    # the runs trained: the weights moved 10x more than the difference allowed (not two copies of the base)
    assert moved > 10 * TOLERANCE


def test_sigterm_to_the_launcher_resumes(base: tuple[Path, Path], tmp_path: Path) -> None:
    _finish(_launch(base, tmp_path / "ref", 2))
    killed = _launch(base, tmp_path / "killed", 2, slow=True)
    assert killed.stdout is not None
    seen, deadline = 0, time.monotonic() + 300
    while seen < 4 and time.monotonic() < deadline:  # 2 processes x 2 steps begun
        if killed.stdout.readline().startswith("STEP"):
            seen += 1
    killed.send_signal(signal.SIGTERM)  # to the launcher, as SLURM's preemption does
    _, stderr = killed.communicate(timeout=300)
    assert killed.returncode != 0
    assert "training state saved" in stderr, stderr[-3000:]
    assert find_state(tmp_path / "killed" / "state") is not None
    assert not (tmp_path / "killed" / "model" / MANIFEST).exists()
    resumed = _launch(base, tmp_path / "killed", 2)
    _finish(resumed)
    summary = read_json(tmp_path / "killed" / "summary.json")
    assert 1 <= summary["resumed_from_step"] < summary["steps"]
    reference, again = _weights(tmp_path / "ref"), _weights(tmp_path / "killed")
    worst = max((reference[k] - again[k]).abs().max().item() for k in reference)
    assert worst <= TOLERANCE, f"resumed 2-process run differs from the uninterrupted one by {worst:.2e}"
