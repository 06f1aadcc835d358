"""Model directories under faults: tampered, partial, pickled, and sidecars."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from fairforget.errors import ModelError
from fairforget.models import modeldir
from fairforget.models.modeldir import (
    MANIFEST,
    load_model_dir,
    read_sidecar,
    verify_model_dir,
    write_manifest,
    write_sidecar,
)


def _model_dir(tmp_path: Path) -> Path:
    """A tiny but well-formed model dir (weights + config + manifest); no model class needed to verify it."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    weights = {"embeddings.weight": np.arange(32, dtype=np.float32).reshape(8, 4)}
    save_file(weights, str(model_dir / "model.safetensors"))
    (model_dir / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 4}))
    write_manifest(model_dir, "masked")
    return model_dir


class _TouchOnUnpickle:
    """Unpickling this creates a marker file: proof that something unpickled the 'weights'."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch):
    """torch.load and pickle.load(s) raise if called at all."""
    import torch

    def refuse(*_args, **_kwargs):
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


def test_intact_dir_verifies_and_sidecar_round_trips(tmp_path: Path) -> None:
    model_dir = _model_dir(tmp_path)
    manifest = verify_model_dir(model_dir)
    sidecar = tmp_path / "model.sha256"
    assert write_sidecar(model_dir, sidecar) == manifest["content_hash"]
    assert sidecar.read_text() == manifest["content_hash"] + "\n"
    assert read_sidecar(sidecar) == manifest["content_hash"]


def test_changed_weights_do_not_match_manifest(tmp_path: Path) -> None:
    model_dir = _model_dir(tmp_path)
    save_file({"embeddings.weight": np.zeros((8, 4), dtype=np.float32)}, str(model_dir / "model.safetensors"))
    with pytest.raises(ModelError, match="do not match the manifest hash: model.safetensors"):
        verify_model_dir(model_dir)


def test_tampered_manifest_content_hash_is_refused(tmp_path: Path) -> None:
    model_dir = _model_dir(tmp_path)
    manifest = json.loads((model_dir / MANIFEST).read_text())
    manifest["content_hash"] = "0" * 64
    (model_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="content_hash does not match"):
        verify_model_dir(model_dir)


def test_partial_dir_without_manifest_is_refused(tmp_path: Path) -> None:
    model_dir = _model_dir(tmp_path)
    (model_dir / MANIFEST).unlink()  # as after a save killed before its last step
    with pytest.raises(ModelError, match="partial"):
        verify_model_dir(model_dir)


@pytest.mark.parametrize("damage", ["truncated", "not-an-object", "missing-weights-entry"])
def test_malformed_manifest_is_refused(tmp_path: Path, damage: str) -> None:
    model_dir = _model_dir(tmp_path)
    path = model_dir / MANIFEST
    if damage == "truncated":
        path.write_text(path.read_text()[:40])
    elif damage == "not-an-object":
        path.write_text("[]")
    else:
        manifest = json.loads(path.read_text())
        del manifest["files"]["model.safetensors"]
        path.write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=str(path)):
        verify_model_dir(model_dir)


def test_missing_and_unlisted_files_are_refused(tmp_path: Path) -> None:
    model_dir = _model_dir(tmp_path)
    (model_dir / "adapter_model.safetensors").write_bytes(b"extra weights nobody hashed")
    with pytest.raises(ModelError, match="not listed in the manifest: adapter_model.safetensors"):
        verify_model_dir(model_dir)
    (model_dir / "adapter_model.safetensors").unlink()
    (model_dir / "config.json").unlink()
    with pytest.raises(ModelError, match="missing file.*config.json"):
        verify_model_dir(model_dir)


@pytest.mark.parametrize("where", ["pytorch_model.bin", "sub/optimizer.pt"])
def test_pickled_weights_are_refused_and_never_unpickled(tmp_path: Path, no_unpickling, where: str) -> None:
    model_dir = _model_dir(tmp_path)
    marker = tmp_path / "UNPICKLED"
    pickled = model_dir / where
    pickled.parent.mkdir(exist_ok=True)
    pickled.write_bytes(pickle.dumps(_TouchOnUnpickle(marker)))
    with pytest.raises(ModelError, match="refusing pickled weights"):
        write_manifest(model_dir, "masked")
    # Even a hand-made manifest that vouches for the pickle does not help.
    manifest = json.loads((model_dir / MANIFEST).read_text())
    manifest["files"] = modeldir.hash_files(model_dir)
    manifest["content_hash"] = modeldir.content_hash(manifest["files"])
    (model_dir / MANIFEST).write_text(json.dumps(manifest))
    for check in (verify_model_dir, load_model_dir, lambda d: load_model_dir(d, verify=False)):
        with pytest.raises(ModelError, match="refusing pickled weights"):
            check(model_dir)
    assert not marker.exists()


def test_pickle_only_checkpoint_is_refused(tmp_path: Path, no_unpickling) -> None:
    model_dir = tmp_path / "hf_download"
    model_dir.mkdir()
    marker = tmp_path / "UNPICKLED"
    (model_dir / "pytorch_model.bin").write_bytes(pickle.dumps(_TouchOnUnpickle(marker)))
    (model_dir / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelError, match="refusing pickled weights.*pytorch_model.bin"):
        load_model_dir(model_dir)
    with pytest.raises(ModelError, match="refusing pickled weights"):
        write_manifest(model_dir, "masked")
    assert not marker.exists()


@pytest.mark.parametrize("content", ["", "not a hash\n", "A" * 64 + "\n"])
def test_bad_sidecar_is_refused(tmp_path: Path, content: str) -> None:
    sidecar = tmp_path / "m.sha256"
    sidecar.write_text(content)
    with pytest.raises(ModelError, match="not a sha256 hash sidecar"):
        read_sidecar(sidecar)


def test_missing_sidecar_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="m.sha256"):
        read_sidecar(tmp_path / "m.sha256")
