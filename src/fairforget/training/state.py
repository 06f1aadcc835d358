"""Resumable training state: model, optimizer, scheduler, RNG states and data position, without pickles.

Layout of `state_dir/checkpoint/`:
    tensors.safetensors   model parameters ("model.<name>"), optimizer tensors ("optim.<index>.<key>"),
                          RNG states ("rng.torch", "rng.cuda.<i>", "rng.collate", "rng.numpy_keys")
    state.json            step, data position, counters, optimizer scalars + param groups, scheduler state,
                          python/numpy RNG scalars, and a fingerprint of the settings that made the state
    trajectory.parquet    probe rows recorded so far (optional)

A new state is written to `checkpoint.tmp/` and swapped in by renames, so a kill mid-write leaves the previous
state usable (`checkpoint.old/` is used if the kill fell between the two renames).
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from fairforget.errors import TrainingError
from fairforget.io import naming_the_path, read_json, write_json

CURRENT = "checkpoint"
PACKED = "packed"  # a packed run's block files (fairforget.training.packing), kept until the run is finished
TENSORS = "tensors.safetensors"
METADATA = "state.json"
TRAJECTORY = "trajectory.parquet"
STATE_FORMAT = 1


@dataclass
class TrainingState:
    """What a resumed run needs besides the objects it rebuilds from the config."""

    step: int  # optimizer steps taken
    position: int  # examples consumed from the seeded example stream
    tokens: int
    examples: int
    last_loss: float
    wall_seconds: float
    fingerprint: str
    trajectory_rows: list[dict[str, Any]] = field(default_factory=list)
    probe_seconds: float = 0.0  # part of wall_seconds spent in the probe callback


def flatten_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split `optimizer.state_dict()` into named tensors and JSON-able metadata."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, param_state in state_dict["state"].items():
        for key, value in param_state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"scalars": scalars, "param_groups": state_dict["param_groups"]}


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if not name.startswith("optim."):
            continue
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = tensor
    for index, scalars in meta["scalars"].items():
        state.setdefault(int(index), {}).update(scalars)
    return {"state": state, "param_groups": meta["param_groups"]}


def _rng_snapshot(collate_generator: torch.Generator) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state(), "rng.collate": collate_generator.get_state()}
    if torch.cuda.is_available():
        for i, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = cuda_state
    version, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng.numpy_keys"] = torch.from_numpy(np.asarray(keys, dtype=np.uint32).astype(np.int64))
    py_version, py_internal, py_gauss = random.getstate()
    meta = {
        "numpy": {"version": version, "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": py_version, "internal": list(py_internal), "gauss": py_gauss},
    }
    return tensors, meta


def _rng_restore(tensors: dict[str, torch.Tensor], meta: dict[str, Any], collate_generator: torch.Generator) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    collate_generator.set_state(tensors["rng.collate"])
    if torch.cuda.is_available():
        cuda_states = [tensors[f"rng.cuda.{i}"] for i in range(torch.cuda.device_count()) if f"rng.cuda.{i}" in tensors]
        if cuda_states:
            torch.cuda.set_rng_state_all(cuda_states)
    numpy_meta = meta["numpy"]
    keys = tensors["rng.numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state((numpy_meta["version"], keys, numpy_meta["pos"], numpy_meta["has_gauss"], numpy_meta["cached"]))
    python_meta = meta["python"]
    random.setstate((python_meta["version"], tuple(python_meta["internal"]), python_meta["gauss"]))


def save_training_state(
    state_dir: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    collate_generator: torch.Generator,
    state: TrainingState,
) -> Path:
    """Write the state atomically (see module docstring); returns the checkpoint folder."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp, current, old = state_dir / f"{CURRENT}.tmp", state_dir / CURRENT, state_dir / f"{CURRENT}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    # named_parameters() drops tied duplicates (BERT's decoder = embeddings), which safetensors refuses.
    tensors = {f"model.{name}": p.detach().cpu().contiguous() for name, p in model.named_parameters()}
    optim_tensors, optim_meta = flatten_optimizer_state(optimizer.state_dict())
    rng_tensors, rng_meta = _rng_snapshot(collate_generator)
    tensors.update(optim_tensors)
    tensors.update(rng_tensors)
    with naming_the_path(tmp / TENSORS, "the training state"):
        save_file(tensors, str(tmp / TENSORS))
    scheduler_state = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    write_json(
        tmp / METADATA,
        {
            "format": STATE_FORMAT,
            "step": state.step,
            "position": state.position,
            "tokens": state.tokens,
            "examples": state.examples,
            "last_loss": state.last_loss,
            "wall_seconds": state.wall_seconds,
            "probe_seconds": state.probe_seconds,
            "fingerprint": state.fingerprint,
            # which attempt of the job saved it (fairforget.workflow.logs sets the variable), for the resume line
            "saved_by_attempt": current_attempt(),
            "optimizer": optim_meta,
            "scheduler": scheduler_state,
            "rng": rng_meta,
        },
    )
    if state.trajectory_rows:
        import polars as pl

        pl.DataFrame(state.trajectory_rows).write_parquet(tmp / TRAJECTORY)
    if current.exists():
        shutil.rmtree(old, ignore_errors=True)
        current.rename(old)
    tmp.rename(current)
    shutil.rmtree(old, ignore_errors=True)
    return current


def current_attempt() -> int | None:
    """Snakemake's attempt of this job (1, 2, ...), when the rule script passed it on (FAIRFORGET_ATTEMPT)."""
    value = os.environ.get("FAIRFORGET_ATTEMPT", "")
    return int(value) if value.isdigit() else None


def saved_by_attempt(folder: str | Path) -> int | None:
    """The attempt that saved the state in `folder` (None: unknown, e.g. saved outside a workflow job)."""
    value = read_json(Path(folder) / METADATA).get("saved_by_attempt")
    return int(value) if isinstance(value, int) else None


def find_state(state_dir: str | Path) -> Path | None:
    """The usable checkpoint folder in `state_dir`, or None when there is nothing to resume."""
    state_dir = Path(state_dir)
    for name in (CURRENT, f"{CURRENT}.old"):
        folder = state_dir / name
        if (folder / METADATA).is_file() and (folder / TENSORS).is_file():
            return folder
    return None


def load_training_state(
    folder: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    collate_generator: torch.Generator,
    fingerprint: str,
) -> TrainingState:
    """Restore everything saved by `save_training_state` in place; refuse a state made by other settings."""
    folder = Path(folder)
    meta = read_json(folder / METADATA)
    if meta.get("format") != STATE_FORMAT:
        raise TrainingError(f"{folder / METADATA}: unknown state format {meta.get('format')!r}")
    if meta["fingerprint"] != fingerprint:
        raise TrainingError(
            f"{folder}: this training state was made with different settings or data (fingerprint "
            f"{meta['fingerprint'][:12]} != {fingerprint[:12]}); delete {folder.parent} to start over"
        )
    tensors = load_file(str(folder / TENSORS))
    params = dict(model.named_parameters())
    saved = {name[len("model.") :] for name in tensors if name.startswith("model.")}
    if saved != set(params):
        raise TrainingError(f"{folder / TENSORS}: parameter names do not match the model being trained")
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(tensors[f"model.{name}"])
    optimizer.load_state_dict(unflatten_optimizer_state(tensors, meta["optimizer"]))
    scheduler.load_state_dict({**meta["scheduler"], "lr_lambdas": [None] * len(optimizer.param_groups)})
    _rng_restore(tensors, meta["rng"], collate_generator)
    rows: list[dict[str, Any]] = []
    if (folder / TRAJECTORY).is_file():
        import polars as pl

        rows = pl.read_parquet(folder / TRAJECTORY).to_dicts()
    return TrainingState(
        step=int(meta["step"]),
        position=int(meta["position"]),
        tokens=int(meta["tokens"]),
        examples=int(meta["examples"]),
        last_loss=float(meta["last_loss"]),
        wall_seconds=float(meta["wall_seconds"]),
        fingerprint=meta["fingerprint"],
        trajectory_rows=rows,
        probe_seconds=float(meta.get("probe_seconds", 0.0)),
    )


def clear_state(state_dir: str | Path) -> None:
    """Remove a finished run's training state and packed blocks (the saved model supersedes them)."""
    state_dir = Path(state_dir)
    for name in (CURRENT, f"{CURRENT}.tmp", f"{CURRENT}.old", PACKED):
        shutil.rmtree(state_dir / name, ignore_errors=True)
    if state_dir.is_dir() and not any(state_dir.iterdir()):
        state_dir.rmdir()
