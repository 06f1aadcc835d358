"""The toy base build, hub resolution and the fine-tuning stage, on tiny models (toy tokenizers and models:
tests/unit/models/test_toy.py)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import torch

from engine_helpers import (
    MeanSquaredLogits,
    finetune_test_job,
    toy_base,  # noqa: F401 (a fixture)
)
from fairforget.errors import ConfigError, ModelError
from fairforget.io import read_json
from fairforget.models.hub import resolve_hub_model
from fairforget.models.modeldir import MANIFEST, load_model_dir, verify_model_dir
from fairforget.training.finetune import run_finetune_job, subset_texts
from fairforget.training.plugins import OBJECTIVES

torch.set_num_threads(1)

TRAIN_CFG = {
    "epochs": 1,
    "batch_size": 8,
    "learning_rate": 0.001,
    "warmup_ratio": 0.1,
    "max_length": 32,
    "checkpoint_every_steps": 2,
    "probe_every_steps": 2,
    "mixed_precision": "no",
}
RUN = {"model": "tiny", "objective": "none", "remedy": "none", "size": "16", "seed": 1}


def test_finetune_stage_produces_verified_child(toy_base: tuple[Path, Path, dict], tmp_path: Path) -> None:
    root, data, base_manifest = toy_base
    probe = {"max_examples": 4, "batch_size": 8, "max_length": 32}
    manifest = run_finetune_job(
        finetune_test_job(root, tmp_path, RUN, TRAIN_CFG, probe=probe, state_dir=tmp_path / "state")
    )
    out = tmp_path / "model"
    assert verify_model_dir(out)["content_hash"] == manifest["content_hash"]
    assert manifest["parent_hash"] == base_manifest["content_hash"]
    assert (tmp_path / "model.sha256").read_text().strip() == manifest["content_hash"]  # the job's sidecar
    assert manifest["run"] == RUN and manifest["objective"] == {"type": "none"}
    assert manifest["content_hash"] != base_manifest["content_hash"]
    summary = read_json(tmp_path / "summary.json")
    assert summary["steps"] == 2  # 16 debiasing texts / batch 8
    assert summary["tokens"] > 0 and summary["tokens_per_second"] > 0
    assert summary["checkpoint_hash"] == manifest["content_hash"]
    trajectory = pl.read_parquet(tmp_path / "trajectory.parquet")
    assert trajectory.columns == ["step", "probe_set", "item_id", "correct"]
    assert sorted(trajectory["step"].unique().to_list()) == [0, 2]
    assert set(trajectory["probe_set"].unique().to_list()) == {"general", "stereotype"}
    assert trajectory.filter(pl.col("probe_set") == "stereotype").height == 2 * 4
    assert not (tmp_path / "state").exists()  # cleared once the model is saved
    loaded = load_model_dir(out)
    assert loaded.kind == "masked"


@OBJECTIVES.register("_engine_test_nan")
class NaNObjective(MeanSquaredLogits):
    def loss(self, model, batch, ctx):
        return super().loss(model, batch, ctx) * float("inf")


def test_finetune_nan_leaves_no_manifest(toy_base: tuple[Path, Path, dict], tmp_path: Path) -> None:
    root, data, _ = toy_base
    out = tmp_path / "model"
    out.mkdir()
    (out / MANIFEST).write_text("{}")  # a stale manifest from an earlier attempt must not survive
    from fairforget.errors import TrainingError

    run = {**RUN, "objective": "nan"}
    job = finetune_test_job(
        root, tmp_path, run, TRAIN_CFG, objective={"type": "_engine_test_nan"}, state_dir=tmp_path / "state"
    )
    with pytest.raises(TrainingError, match="non-finite loss .* at step 1 of 2"):
        run_finetune_job(job)
    assert not (out / MANIFEST).exists()
    assert not (tmp_path / "summary.json").exists()


def test_subset_texts_is_seeded_and_checked() -> None:
    texts = [f"t{i}" for i in range(10)]
    assert subset_texts(texts, "4", 0) == subset_texts(texts, 4, 0)
    assert subset_texts(texts, 4, 0) != subset_texts(texts, 4, 1)
    assert sorted(subset_texts(texts, "full", 3)) == sorted(texts)
    with pytest.raises(ConfigError, match="size 11 exceeds the 10 texts"):
        subset_texts(texts, 11, 0)


def _fake_hub_cache(cache: Path, hub_id: str, model_dir: Path) -> None:
    """The layout huggingface_hub uses: models--org--name/{refs/main, snapshots/<commit>/files}."""
    commit = "0" * 40
    repo = cache / f"models--{hub_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for path in model_dir.iterdir():
        if path.name != MANIFEST:
            (snapshot / path.name).write_bytes(path.read_bytes())


def test_hub_model_from_cache_and_local_path(toy_base: tuple[Path, Path, dict], tmp_path: Path) -> None:
    root, _, base_manifest = toy_base
    _fake_hub_cache(tmp_path / "hub", "org/tiny-bert", root / "base")
    manifest = resolve_hub_model("org/tiny-bert", "masked", tmp_path / "from_cache", cache_dir=tmp_path / "hub")
    assert verify_model_dir(tmp_path / "from_cache")["content_hash"] == manifest["content_hash"]
    assert manifest["source"]["hub_id"] == "org/tiny-bert"
    original, copied = load_model_dir(root / "base"), load_model_dir(tmp_path / "from_cache")
    for (name, a), (_, b) in zip(original.model.state_dict().items(), copied.model.state_dict().items()):
        assert torch.equal(a, b), name
    local = resolve_hub_model("org/tiny-bert", "masked", tmp_path / "from_local", local_path=root / "base")
    assert local["content_hash"] == manifest["content_hash"]


def test_hub_model_missing_names_fetch_command(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        resolve_hub_model("bert-base-uncased", "masked", tmp_path / "out", cache_dir=tmp_path / "empty")
    assert "hf download bert-base-uncased" in str(err.value)
    assert "HF_HOME" in str(err.value)
    with pytest.raises(ModelError, match="huggingface-cli download meta-llama/Llama-3.2-1B"):
        resolve_hub_model("meta-llama/Llama-3.2-1B", "causal", tmp_path / "out2", cache_dir=tmp_path / "empty")
    assert not (tmp_path / "out" / MANIFEST).exists()


def test_hub_refuses_pickled_only_weights(toy_base: tuple[Path, Path, dict], tmp_path: Path) -> None:
    root, _, _ = toy_base
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for path in root.joinpath("base").iterdir():
        if path.name not in (MANIFEST, "model.safetensors"):
            (pickled / path.name).write_bytes(path.read_bytes())
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelError, match="safetensors"):
        resolve_hub_model("org/x", "masked", tmp_path / "out", local_path=pickled)


def test_packed_finetune_records_its_blocks(toy_base: tuple[Path, Path, dict], tmp_path: Path) -> None:
    root, data, _ = toy_base
    train_cfg = {**TRAIN_CFG, "packing": True, "block_size": 16, "max_steps": 3}
    cda = {"type": "cda", "params": {"sided": "two"}}
    run_finetune_job(finetune_test_job(root, tmp_path, RUN, train_cfg, objective=cda, state_dir=tmp_path / "state"))
    summary = read_json(tmp_path / "summary.json")
    packing = summary["packing"]
    assert packing["block_size"] == 16 and packing["blocks"] == packing["corpus_tokens"] // 16
    # every position of every micro-batch is a real token: 3 steps x batch x 16
    assert summary["steps"] == 3 and summary["tokens"] == 3 * TRAIN_CFG["batch_size"] * 16
    assert not (tmp_path / "state").exists()  # the block files went with the state
