"""Weight-space fusion of a base model and a debiased checkpoint (WiSE-FT, Wortsman et al. 2022).

theta(alpha) = (1 - alpha) * theta_base + alpha * theta_debiased, tensor by tensor, computed in float64 and
stored in each tensor's own dtype. The fused directory takes every file except the weights (config, tokenizer)
from the debiased checkpoint, and its manifest records both parents' content hashes and alpha
(`fusion: {"alpha", "base_hash", "debiased_hash"}`). `parent_hash` is the base model's, as for any fine-tuned
checkpoint: the evaluation and downstream stages check that a checkpoint derives from the base model they compare
it with.

The two ends are the parents themselves, byte for byte: alpha = 0 copies the base model's files, alpha = 1 the
debiased checkpoint's, so their content hash equals that parent's (the workflow does not even schedule them:
their results are the parents', docs/metrics.md section 11). A LoRA checkpoint fuses as any other: the `lora`
remedy saves it with the adapters merged into the weights (`merge_and_unload`); an unmerged adapter directory
(`adapter_config.json`) is refused.
"""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path
from typing import Any

import torch

from fairforget.errors import ModelError
from fairforget.fusion.job import FuseJob
from fairforget.io import naming_the_path
from fairforget.models.modeldir import (
    MANIFEST,
    WEIGHTS,
    Manifest,
    read_sidecar,
    verify_model_dir,
    write_manifest,
    write_sidecar,
)

log = logging.getLogger(__name__)
ADAPTER_CONFIG = "adapter_config.json"


def check_alpha(alpha: float, where: str = "alpha") -> float:
    """alpha as a float in [0, 1]; anything else raises ModelError naming `where`."""
    value = float(alpha)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ModelError(f"{where}: the fusion weight must lie in [0, 1], got {alpha!r}")
    return value


def interpolate_tensors(
    base: dict[str, torch.Tensor], debiased: dict[str, torch.Tensor], alpha: float, where: str = "fusion"
) -> dict[str, torch.Tensor]:
    """(1 - alpha) * base + alpha * debiased for every floating tensor; other tensors (integer buffers) must be
    equal in both and are kept. Names, shapes and dtypes must agree (the same architecture)."""
    alpha = check_alpha(alpha, where)
    if set(base) != set(debiased):
        only = sorted(set(base) ^ set(debiased))
        raise ModelError(f"{where}: the two models have different tensors ({', '.join(only[:5])}, ...)")
    fused: dict[str, torch.Tensor] = {}
    for name in sorted(base):
        a, b = base[name], debiased[name]
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ModelError(
                f"{where}: tensor {name} is {tuple(a.shape)} {a.dtype} in the base and {tuple(b.shape)} {b.dtype} "
                "in the debiased checkpoint"
            )
        if not a.is_floating_point():
            if not torch.equal(a, b):
                raise ModelError(f"{where}: non-floating tensor {name} differs between the two models")
            fused[name] = b.clone()
            continue
        # float64 so that bf16/fp16 weights are rounded once, at the end
        mixed = (1.0 - alpha) * a.to(torch.float64) + alpha * b.to(torch.float64)
        fused[name] = mixed.to(a.dtype).contiguous()
    return fused


def _checked_dir(model_dir: Path) -> dict[str, Any]:
    """The verified manifest of a merged (non-adapter) model directory."""
    if (model_dir / ADAPTER_CONFIG).is_file():
        raise ModelError(
            f"{model_dir}: an unmerged LoRA adapter directory; fuse the merged checkpoint (the `lora` remedy saves "
            "one with merge_and_unload)"
        )
    return verify_model_dir(model_dir)


def _copy_files(src: Path, out_dir: Path, files: dict[str, str]) -> None:
    for name in files:
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / name, target)


def fuse_model_dirs(
    base_dir: str | Path,
    debiased_dir: str | Path,
    alpha: float,
    out_dir: str | Path,
    run: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the fused model directory `out_dir` (with its manifest) and return the manifest."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    base_dir, debiased_dir, out_dir = Path(base_dir), Path(debiased_dir), Path(out_dir)
    alpha = check_alpha(alpha, f"fusion of {debiased_dir}")
    base = _checked_dir(base_dir)
    debiased = _checked_dir(debiased_dir)
    if base["kind"] != debiased["kind"]:
        raise ModelError(f"{debiased_dir}: a {debiased['kind']} model cannot fuse with the {base['kind']} {base_dir}")
    if out_dir.exists():
        shutil.rmtree(out_dir)  # a stale or partial directory must not leave files the manifest would vouch for
    out_dir.mkdir(parents=True)
    # The ends are the parents' own files: identical bytes, identical content hash.
    source, source_manifest = (base_dir, base) if alpha == 0.0 else (debiased_dir, debiased)
    _copy_files(source, out_dir, source_manifest["files"])
    if 0.0 < alpha < 1.0:
        with safe_open(str(debiased_dir / WEIGHTS), framework="pt") as handle:
            metadata = handle.metadata()
        fused = interpolate_tensors(
            load_file(str(base_dir / WEIGHTS)), load_file(str(debiased_dir / WEIGHTS)), alpha, f"fusion of {out_dir}"
        )
        with naming_the_path(out_dir / WEIGHTS, "the fused weights"):
            save_file(fused, str(out_dir / WEIGHTS), metadata=metadata)
    record = {
        "fusion": {
            "alpha": alpha,
            "base_hash": base["content_hash"],
            "debiased_hash": debiased["content_hash"],
            "method": "wise-ft linear weight interpolation (Wortsman et al. 2022)",
        },
        **({"source": source_manifest["source"]} if source_manifest.get("source") else {}),
        **(extra or {}),
    }
    return write_manifest(out_dir, debiased["kind"], parent_hash=base["content_hash"], run=run, extra=record)


def fuse_into(job: FuseJob) -> str:
    """The `fuse` rule: check both parents against their sidecars, fuse, write the fused sidecar; its hash."""
    for model_dir, parent_sidecar in ((job.base_dir, job.base_sidecar), (job.debiased_dir, job.debiased_sidecar)):
        recorded = read_sidecar(parent_sidecar)
        if verify_model_dir(model_dir)["content_hash"] != recorded:
            raise ModelError(f"{parent_sidecar}: hash does not match the manifest of {model_dir}")
    manifest = fuse_model_dirs(
        job.base_dir, job.debiased_dir, job.alpha, job.out_dir, run=job.run, extra={"code": job.code}
    )
    log.info("fused %s at alpha=%g: %s", job.debiased_dir, job.alpha, manifest["content_hash"][:12])
    return write_sidecar(job.out_dir, job.sidecar)


def fusion_record(model_dir: str | Path) -> dict[str, Any]:
    """The `fusion` entry of a fused directory's manifest (ModelError if it is not a fused model)."""
    record = Manifest.read(Path(model_dir) / MANIFEST).fusion
    if record is None:
        raise ModelError(f"{model_dir}/{MANIFEST}: not a fused model (no 'fusion' entry)")
    return record
