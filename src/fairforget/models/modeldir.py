"""Model directories: safetensors weights + config + tokenizer + a manifest of content hashes.

The manifest's `content_hash` (sha256 over the sorted (file name, file sha256) pairs, manifest excluded) is the
identity of a checkpoint everywhere in the workflow. Pickled weights are refused, never loaded.
"""

from __future__ import annotations

import getpass
import os
import platform
import socket
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fairforget.errors import DataError, ModelError
from fairforget.hashing import canonical_json_hash, sha256_file
from fairforget.io import atomic_write_text, naming_the_path, read_json, write_json

MANIFEST = "manifest.json"
WEIGHTS = "model.safetensors"
KINDS = ("masked", "causal")
# Files that would hold pickled tensors: their presence makes a directory unacceptable.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    kind: str
    manifest: dict[str, Any]
    path: Path

    @property
    def content_hash(self) -> str:
        return self.manifest["content_hash"]


@dataclass(frozen=True)
class Manifest:
    """A model directory's manifest.json as written by `write_manifest`, typed: the fields the rest of the package
    reads (provenance, fusion), read leniently (a missing field is None or empty) so that a partial or foreign
    manifest can still be described; `verify_model_dir` is the strict check. `record` is the whole JSON object."""

    record: dict[str, Any]
    kind: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    content_hash: str | None = None
    parent_hash: str | None = None
    run: dict[str, Any] | None = None
    # where the base weights came from (`source.type`: toy, hub, local, gguf, ...)
    source: dict[str, Any] | None = None
    # {path: sha256 at training time} of the prepared data a checkpoint was trained on
    data_files: dict[str, str] | None = None
    # a fused checkpoint's {alpha, base_hash, debiased_hash, method} (fairforget.fusion.weights)
    fusion: dict[str, Any] | None = None
    # the code identity of the job that made it (fairforget.code_identity)
    code: dict[str, Any] | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Manifest:
        def mapping(key: str) -> Any:
            value = record.get(key)
            return value if isinstance(value, dict) else None

        return cls(
            record=record,
            kind=record.get("kind"),
            files=record.get("files") or {},
            content_hash=record.get("content_hash"),
            parent_hash=record.get("parent_hash"),
            run=record.get("run"),
            source=record.get("source"),
            data_files=mapping("data_files"),
            fusion=mapping("fusion"),
            code=mapping("code"),
        )

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        """The manifest file `path` (a model dir's manifest.json); DataError if it is not a JSON object."""
        record = read_json(path)
        if not isinstance(record, dict):
            raise DataError(f"{path}: expected a JSON object")
        return cls.from_record(record)


def hash_files(model_dir: Path) -> dict[str, str]:
    """sha256 of every file in the directory except the manifest (recursively, posix relative names)."""
    files: dict[str, str] = {}
    for path in sorted(model_dir.rglob("*")):
        if path.is_file() and path.name != MANIFEST and not path.name.startswith("."):
            files[path.relative_to(model_dir).as_posix()] = sha256_file(path)
    return files


def content_hash(files: dict[str, str]) -> str:
    return canonical_json_hash(sorted(files.items()))


def _created_by() -> dict[str, Any]:
    from fairforget import __version__

    return {
        "fairforget": __version__,
        "host": socket.gethostname(),
        "user": getpass.getuser() if hasattr(os, "getuid") else None,
        "python": platform.python_version(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }


def write_manifest(
    model_dir: str | Path,
    kind: str,
    parent_hash: str | None = None,
    run: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Hash the directory's files and write manifest.json (atomically, last: it marks the dir complete)."""
    model_dir = Path(model_dir)
    if kind not in KINDS:
        raise ModelError(f"{model_dir}: kind must be one of {KINDS}, got {kind!r}")
    _refuse_pickles(model_dir)  # a manifest must never vouch for pickled files
    files = hash_files(model_dir)
    if WEIGHTS not in files:
        raise ModelError(f"{model_dir}: no {WEIGHTS}; weights must be saved as safetensors")
    manifest = {
        "format": 1,
        "kind": kind,
        "files": files,
        "content_hash": content_hash(files),
        "parent_hash": parent_hash,
        "run": run,
        # not part of the content hash: where and when it was made
        "created_by": _created_by(),
        **(extra or {}),
    }
    write_json(model_dir / MANIFEST, manifest)
    return manifest


def annotate_manifest(model_dir: str | Path, fields: dict[str, Any]) -> dict[str, Any]:
    """Add record-only fields (e.g. the code identity) to a finished manifest; the files and hashes stay."""
    model_dir = Path(model_dir)
    manifest = _read_manifest(model_dir)
    reserved = sorted(set(fields) & {"format", "kind", "files", "content_hash", "parent_hash"})
    if reserved:
        raise ModelError(f"{model_dir}/{MANIFEST}: cannot annotate reserved key(s) {', '.join(reserved)}")
    manifest.update(fields)
    write_json(model_dir / MANIFEST, manifest)
    return manifest


def save_model_dir(
    model: Any,
    tokenizer: Any,
    out_dir: str | Path,
    kind: str,
    parent_hash: str | None = None,
    run: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Save weights as safetensors, config and tokenizer, then the manifest."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # an old manifest must not vouch for new files
    with naming_the_path(out_dir, "the model folder"):
        model.save_pretrained(out_dir, safe_serialization=True)
        tokenizer.save_pretrained(out_dir)
    # transformers may add generation_config.json etc.; all files are hashed.
    return write_manifest(out_dir, kind, parent_hash=parent_hash, run=run, extra=extra)


def _refuse_pickles(model_dir: Path) -> None:
    """Refuse any file that could hold pickled tensors, at any depth, before anything is read."""
    pickles = sorted(
        p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES
    )
    if pickles:
        raise ModelError(
            f"{model_dir}: refusing pickled weights ({', '.join(pickles)}); "
            "convert them to safetensors (model.save_pretrained(dir, safe_serialization=True))"
        )


def _read_manifest(model_dir: Path) -> dict[str, Any]:
    manifest_path = model_dir / MANIFEST
    if not manifest_path.is_file():
        raise ModelError(f"{model_dir}: no {MANIFEST}: the directory is partial or was not made by fairforget")
    try:
        manifest = read_json(manifest_path)
    except DataError as err:
        raise ModelError(f"{manifest_path}: unreadable manifest ({err})") from err
    if not isinstance(manifest, dict):
        raise ModelError(f"{manifest_path}: expected a JSON object")
    for key in ("kind", "files", "content_hash"):
        if key not in manifest:
            raise ModelError(f"{manifest_path}: missing key '{key}'")
    if manifest["kind"] not in KINDS:
        raise ModelError(f"{manifest_path}: kind must be one of {KINDS}, got {manifest['kind']!r}")
    files = manifest["files"]
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ModelError(f"{manifest_path}: 'files' must map file names to sha256 hashes")
    if WEIGHTS not in files:
        raise ModelError(f"{manifest_path}: {WEIGHTS} is not listed; weights must be safetensors")
    return manifest


def verify_model_dir(model_dir: str | Path) -> dict[str, Any]:
    """Check that the directory is complete and its files match the manifest; return the manifest.

    Refused: pickled weight files (anywhere in the dir), no or malformed manifest (a partial save), a
    listed file missing or changed, a file the manifest does not list (it could change what loads), and a
    content hash that does not match the listed hashes.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"{model_dir}: model directory not found")
    _refuse_pickles(model_dir)
    manifest = _read_manifest(model_dir)
    manifest_path = model_dir / MANIFEST
    actual = hash_files(model_dir)
    missing = sorted(set(manifest["files"]) - set(actual))
    if missing:
        raise ModelError(f"{model_dir}: missing file(s) listed in the manifest: {', '.join(missing)}")
    unlisted = sorted(set(actual) - set(manifest["files"]))
    if unlisted:
        raise ModelError(f"{model_dir}: file(s) not listed in the manifest: {', '.join(unlisted)}")
    changed = sorted(name for name, digest in manifest["files"].items() if actual[name] != digest)
    if changed:
        raise ModelError(f"{model_dir}: file(s) do not match the manifest hash: {', '.join(changed)}")
    if content_hash(manifest["files"]) != manifest["content_hash"]:
        raise ModelError(f"{manifest_path}: content_hash does not match the listed file hashes")
    return manifest


def load_model_dir(model_dir: str | Path, verify: bool = True, **model_kwargs: Any) -> LoadedModel:
    """Load model and tokenizer from a verified directory (safetensors only, no remote code)."""
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    model_dir = Path(model_dir)
    if verify:
        manifest = verify_model_dir(model_dir)
    else:
        # Even unverified, never let transformers fall back to pickled weights.
        _refuse_pickles(model_dir)
        manifest = _read_manifest(model_dir)
    auto = AutoModelForMaskedLM if manifest["kind"] == "masked" else AutoModelForCausalLM
    model = auto.from_pretrained(model_dir, use_safetensors=True, trust_remote_code=False, **model_kwargs)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    return LoadedModel(model=model, tokenizer=tokenizer, kind=manifest["kind"], manifest=manifest, path=model_dir)


def write_sidecar(model_dir: str | Path, sidecar: str | Path) -> str:
    """Write the `.sha256` sidecar that downstream rules depend on instead of the directory's mtime."""
    manifest = verify_model_dir(model_dir)
    atomic_write_text(sidecar, manifest["content_hash"] + "\n")
    return manifest["content_hash"]


def read_sidecar(sidecar: str | Path) -> str:
    try:
        text = Path(sidecar).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise ModelError(f"{sidecar}: cannot read the hash sidecar ({err})") from err
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ModelError(f"{sidecar}: not a sha256 hash sidecar")
    return text


def _tensor_files(model_dir: Path) -> dict[str, Path]:
    """Tensor name -> the safetensors file of `model_dir` that holds it (one file, or the shards of a large model)."""
    from safetensors import safe_open

    where: dict[str, Path] = {}
    for path in sorted(model_dir.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as handle:
            where.update((name, path) for name in handle.keys())  # noqa: SIM118 - safe_open has no __iter__
    if not where:
        raise ModelError(f"{model_dir}: no safetensors weights")
    return where


def weight_change(base_dir: str | Path, model_dir: str | Path) -> dict[str, Any]:
    """How far the weights of `model_dir` moved from those of `base_dir`, read tensor by tensor from their
    safetensors files (one tensor of each in memory at a time): `max_abs` = max |w - w0|, `changed` = elements
    that differ at all, `total` = elements, `relative_l2` = ||w - w0|| / ||w0|| over every tensor. A tensor that one
    directory lacks or holds in another shape raises ModelError: they are not the same architecture."""
    import torch
    from safetensors import safe_open

    base_files, files = _tensor_files(Path(base_dir)), _tensor_files(Path(model_dir))
    if set(base_files) != set(files):
        odd = sorted(set(base_files) ^ set(files))
        raise ModelError(f"{model_dir}: tensors differ from those of {base_dir} (e.g. {odd[0]!r})")
    max_abs, changed, total, diff_sq, base_sq = 0.0, 0, 0, 0.0, 0.0
    with ExitStack() as stack:  # each file opened once, not once per tensor (a model has hundreds)
        handles = {
            path: stack.enter_context(safe_open(str(path), framework="pt"))
            for path in {*base_files.values(), *files.values()}
        }
        for name in sorted(files):
            before, after = handles[base_files[name]].get_tensor(name), handles[files[name]].get_tensor(name)
            if before.shape != after.shape:
                shapes = f"{tuple(after.shape)}, {tuple(before.shape)} in {base_dir}"
                raise ModelError(f"{model_dir}: tensor {name!r} has shape {shapes}")
            # float32 differences: zero exactly where the weights are equal (IEEE subtraction)
            before = before.float()
            diff = after.float() - before
            if diff.numel():
                low, high = torch.aminmax(diff)
                max_abs = max(max_abs, -float(low), float(high))
            changed += int(torch.count_nonzero(diff))
            total += diff.numel()
            diff_sq += float(torch.linalg.vector_norm(diff)) ** 2
            base_sq += float(torch.linalg.vector_norm(before)) ** 2
    relative = (diff_sq**0.5) / (base_sq**0.5) if base_sq > 0 else (0.0 if diff_sq == 0 else float("inf"))
    return {"max_abs": max_abs, "changed": changed, "total": total, "relative_l2": relative}
