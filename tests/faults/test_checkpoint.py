"""Checkpoint saves under faults: a full disk while writing the weights, the manifest or the sidecar leaves a
directory that is refused (never one that looks complete), and a missing directory is named.

The model and tokenizer are stand-ins that write the same files as transformers (safetensors weights, config,
tokenizer), so the save path of `fairforget.models.modeldir` runs without building a model.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from fairforget.errors import ModelError
from fairforget.io import FAULT_ENV
from fairforget.models.modeldir import (
    MANIFEST,
    WEIGHTS,
    load_model_dir,
    read_sidecar,
    save_model_dir,
    verify_model_dir,
    write_sidecar,
)


class StandInModel:
    def __init__(self, fill: float, disk_full: bool = False) -> None:
        self.fill, self.disk_full = fill, disk_full

    def save_pretrained(self, out_dir: Path, safe_serialization: bool = False) -> None:
        assert safe_serialization
        (Path(out_dir) / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 4}))
        weights = Path(out_dir) / WEIGHTS
        save_file({"embed.weight": np.full((64, 4), self.fill, dtype=np.float32)}, str(weights))
        if self.disk_full:
            # what a full disk leaves: the file cut short, then the error
            data = weights.read_bytes()
            weights.write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(weights))


class StandInTokenizer:
    def save_pretrained(self, out_dir: Path) -> None:
        (Path(out_dir) / "tokenizer.json").write_text('{"model": {}}')


def _saved(tmp_path: Path) -> tuple[Path, Path, str]:
    """A complete earlier checkpoint with its sidecar (a rerun writes over it)."""
    model_dir, sidecar = tmp_path / "seed0", tmp_path / "seed0.sha256"
    save_model_dir(StandInModel(0.5), StandInTokenizer(), model_dir, "causal")
    return model_dir, sidecar, write_sidecar(model_dir, sidecar)


def _temp_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp"))


def test_disk_full_while_writing_weights_leaves_a_refused_dir(tmp_path: Path) -> None:
    model_dir, _, _ = _saved(tmp_path)
    with pytest.raises(OSError) as raised:
        save_model_dir(StandInModel(0.25, disk_full=True), StandInTokenizer(), model_dir, "causal")
    assert raised.value.errno == errno.ENOSPC
    # The earlier manifest was removed before the new weights were written: it cannot vouch for them.
    assert not (model_dir / MANIFEST).exists()
    with pytest.raises(ModelError, match="partial"):
        verify_model_dir(model_dir)
    with pytest.raises(ModelError, match="partial"):
        write_sidecar(model_dir, tmp_path / "new.sha256")  # no sidecar for an unverified dir
    assert not (tmp_path / "new.sha256").exists()


def test_disk_full_while_writing_the_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir, _, _ = _saved(tmp_path)
    monkeypatch.setenv(FAULT_ENV, f"enospc:*/{model_dir.name}/{MANIFEST}")
    with pytest.raises(OSError) as raised:
        save_model_dir(StandInModel(0.25), StandInTokenizer(), model_dir, "causal")
    monkeypatch.delenv(FAULT_ENV)
    assert raised.value.errno == errno.ENOSPC
    assert not (model_dir / MANIFEST).exists() and _temp_files(tmp_path) == []
    with pytest.raises(ModelError, match="partial"):
        verify_model_dir(model_dir)
    # once space is back, the same save completes and verifies
    manifest = save_model_dir(StandInModel(0.25), StandInTokenizer(), model_dir, "causal")
    assert verify_model_dir(model_dir)["content_hash"] == manifest["content_hash"]


def test_disk_full_while_writing_the_sidecar_keeps_the_old_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir, sidecar, old_hash = _saved(tmp_path)
    new_hash = save_model_dir(StandInModel(0.25), StandInTokenizer(), model_dir, "causal")["content_hash"]
    assert new_hash != old_hash
    monkeypatch.setenv(FAULT_ENV, f"enospc:*/{sidecar.name}")
    with pytest.raises(OSError):
        write_sidecar(model_dir, sidecar)
    monkeypatch.delenv(FAULT_ENV)
    # never a half-written hash: the old sidecar is intact (and no longer matches the dir, which evaluation
    # checks before it loads a model), and no temporary file is left
    assert read_sidecar(sidecar) == old_hash and _temp_files(tmp_path) == []
    assert write_sidecar(model_dir, sidecar) == new_hash == read_sidecar(sidecar)


def test_missing_model_dir_is_named(tmp_path: Path) -> None:
    for check in (verify_model_dir, load_model_dir):
        with pytest.raises(ModelError, match=rf"{tmp_path / 'absent'}: model directory not found"):
            check(tmp_path / "absent")
