"""Weight-space fusion (fairforget.fusion.weights) on cases small enough to compute by hand: interpolation, the
fused model directory and its record, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from fairforget.errors import ModelError
from fairforget.fusion.job import FuseJob
from fairforget.fusion.weights import fuse_into, fuse_model_dirs, fusion_record, interpolate_tensors
from fairforget.models.modeldir import load_model_dir, save_model_dir, verify_model_dir, write_sidecar
from objectives_helpers import tiny


def test_interpolation_by_hand():
    base = {"w": torch.tensor([0.0, 2.0]), "b": torch.tensor([4.0]), "ids": torch.tensor([0, 1])}
    debiased = {"w": torch.tensor([2.0, 6.0]), "b": torch.tensor([0.0]), "ids": torch.tensor([0, 1])}
    fused = interpolate_tensors(base, debiased, 0.25)
    # 0.75 * [0, 2] + 0.25 * [2, 6] = [0.5, 3.0];  0.75 * 4 + 0.25 * 0 = 3
    assert fused["w"].tolist() == [0.5, 3.0]
    assert fused["b"].tolist() == [3.0]
    assert fused["ids"].tolist() == [0, 1]  # integer buffers are kept, not interpolated
    assert interpolate_tensors(base, debiased, 1.0)["w"].tolist() == [2.0, 6.0]
    assert interpolate_tensors(base, debiased, 0.0)["b"].tolist() == [4.0]


def test_interpolation_rounds_half_precision_once():
    base = {"w": torch.tensor([1.0], dtype=torch.bfloat16)}
    debiased = {"w": torch.tensor([1.0078125], dtype=torch.bfloat16)}  # the next bf16 after 1
    fused = interpolate_tensors(base, debiased, 0.75)
    assert fused["w"].dtype == torch.bfloat16
    assert fused["w"].item() == 1.0078125  # 1.005859375 in float64, rounded once to the nearest bf16


@pytest.mark.parametrize(
    ("base", "debiased", "alpha", "message"),
    [
        ({"w": torch.zeros(2)}, {"w": torch.zeros(2)}, 1.5, "must lie in"),
        ({"w": torch.zeros(2)}, {"w": torch.zeros(3)}, 0.5, "tensor w is"),
        ({"w": torch.zeros(2)}, {"v": torch.zeros(2)}, 0.5, "different tensors"),
        ({"i": torch.tensor([1])}, {"i": torch.tensor([2])}, 0.5, "non-floating tensor i differs"),
    ],
)
def test_interpolation_refuses_bad_input(base, debiased, alpha, message):
    with pytest.raises(ModelError, match=message):
        interpolate_tensors(base, debiased, alpha)


@pytest.fixture(scope="module")
def parents(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny causal base model and a 'debiased' child of it (its weights moved by hand)."""
    root = tmp_path_factory.mktemp("fusion_parents")
    model, tokenizer = tiny("causal", seed=0)
    base = root / "base"
    save_model_dir(model, tokenizer, base, "causal")
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.5)
    debiased = root / "debiased"
    save_model_dir(model, tokenizer, debiased, "causal", parent_hash=verify_model_dir(base)["content_hash"])
    return base, debiased


def test_the_ends_are_the_parents_content(parents, tmp_path):
    base, debiased = parents
    at_one = fuse_model_dirs(base, debiased, 1.0, tmp_path / "one")
    at_zero = fuse_model_dirs(base, debiased, 0.0, tmp_path / "zero")
    assert at_one["content_hash"] == verify_model_dir(debiased)["content_hash"]
    assert at_zero["content_hash"] == verify_model_dir(base)["content_hash"]
    half = fuse_model_dirs(base, debiased, 0.5, tmp_path / "half")
    assert half["content_hash"] not in (at_one["content_hash"], at_zero["content_hash"])


def test_fused_directory_loads_with_the_interpolated_weights_and_records_both_parents(parents, tmp_path):
    base, debiased = parents
    manifest = fuse_model_dirs(base, debiased, 0.5, tmp_path / "half", run={"model": "m", "alpha": 0.5})
    record = fusion_record(tmp_path / "half")
    assert record["alpha"] == 0.5
    assert record["base_hash"] == verify_model_dir(base)["content_hash"]
    assert record["debiased_hash"] == verify_model_dir(debiased)["content_hash"]
    assert manifest["parent_hash"] == record["base_hash"]  # what the evaluation and downstream stages check
    fused = load_model_dir(tmp_path / "half").model.state_dict()
    low, high = load_model_dir(base).model.state_dict(), load_model_dir(debiased).model.state_dict()
    for name, value in fused.items():
        torch.testing.assert_close(value, (low[name] + high[name]) / 2)
    # deterministic: fusing again gives the same content hash
    assert fuse_model_dirs(base, debiased, 0.5, tmp_path / "again")["content_hash"] == manifest["content_hash"]


def test_fuse_into_checks_the_parents_sidecars(parents, tmp_path):
    base, debiased = parents
    write_sidecar(base, tmp_path / "base.sha256")
    (tmp_path / "debiased.sha256").write_text("0" * 64 + "\n")
    job = FuseJob(
        base_dir=str(base),
        base_sidecar=str(tmp_path / "base.sha256"),
        debiased_dir=str(debiased),
        debiased_sidecar=str(tmp_path / "debiased.sha256"),
        alpha=0.5,
        out_dir=str(tmp_path / "f"),
        sidecar=str(tmp_path / "f.sha256"),
        run={"alpha": 0.5},
        code={"id": "x"},
    )
    with pytest.raises(ModelError, match="debiased.sha256: hash does not match"):
        fuse_into(job)
    write_sidecar(debiased, tmp_path / "debiased.sha256")
    digest = fuse_into(FuseJob.from_json(job.to_json()))
    assert (tmp_path / "f.sha256").read_text().strip() == digest
    assert json.loads((tmp_path / "f" / "manifest.json").read_text())["code"] == {"id": "x"}


def test_unmerged_adapter_and_mismatched_kinds_are_refused(parents, tmp_path):
    base, debiased = parents
    adapter = tmp_path / "adapter"
    shutil.copytree(debiased, adapter)
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelError, match="unmerged LoRA adapter"):
        fuse_model_dirs(base, adapter, 0.5, tmp_path / "out")
    model, tokenizer = tiny("masked", seed=0)
    save_model_dir(model, tokenizer, tmp_path / "masked", "masked")
    with pytest.raises(ModelError, match="cannot fuse"):
        fuse_model_dirs(base, tmp_path / "masked", 0.5, tmp_path / "out")


def test_lora_checkpoint_fuses_after_merging(parents, tmp_path):
    """The lora remedy's checkpoint is saved merged (merge_and_unload): a plain model directory that fuses."""
    from fairforget.training.adapters import apply_lora

    base, _ = parents
    loaded = load_model_dir(base)
    wrapped = apply_lora(loaded.model, r=2, alpha=4, dropout=0.0, target_modules=["q_proj"], config_key="t", seed=0)
    with torch.no_grad():
        for name, param in wrapped.named_parameters():
            if "lora_B" in name:
                param.fill_(0.1)  # B = 0 at initialisation would merge to the base weights
    merged = wrapped.merge_and_unload()
    save_model_dir(merged, loaded.tokenizer, tmp_path / "lora", "causal")
    fuse_model_dirs(base, tmp_path / "lora", 0.5, tmp_path / "fused")
    fused = load_model_dir(tmp_path / "fused").model.state_dict()
    low, high = load_model_dir(base).model.state_dict(), load_model_dir(tmp_path / "lora").model.state_dict()
    name = next(n for n in fused if "q_proj.weight" in n)
    assert not torch.equal(low[name], high[name])
    torch.testing.assert_close(fused[name], (low[name] + high[name]) / 2)
