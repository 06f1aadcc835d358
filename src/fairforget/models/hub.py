"""Pretrained (hub) base models, taken from a local path or the local Hugging Face cache only.

Nothing is downloaded at run time: loading uses `local_files_only=True`, safetensors only, no remote code.
A missing model raises ModelError naming the command that fetches it, to be run once on a machine with
network access (a login node) with the same HF_HOME.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fairforget.errors import ModelError
from fairforget.models.modeldir import KINDS, MANIFEST, PICKLE_SUFFIXES, save_model_dir

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """The hub cache huggingface_hub would use, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def fetch_hint(hub_id: str, cache_dir: Path) -> str:
    return (
        f"fetch it once on a machine with network access: `hf download {hub_id}` "
        f"(older clients: `huggingface-cli download {hub_id}`), with HF_HOME set so that the cache is "
        f"{cache_dir} (e.g. `export HF_HOME={cache_dir.parent}`); gated models (e.g. meta-llama/*) also need "
        "`hf auth login` first. Or set `models.<name>.local_path` to a directory holding the model."
    )


@contextmanager
def offline() -> Iterator[None]:
    """Belt and braces besides local_files_only: no hub call even from a library default."""
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def cached_snapshot(hub_id: str, cache_dir: Path, revision: str = "main") -> Path | None:
    """The snapshot folder of `hub_id` in a huggingface_hub cache (models--org--name/snapshots/<commit>).

    Resolved by reading the cache layout directly, so no library code gets a chance to call the hub.
    """
    repo = cache_dir / f"models--{hub_id.replace('/', '--')}"
    snapshots = repo / "snapshots"
    ref = repo / "refs" / revision
    if ref.is_file():
        snapshot = snapshots / ref.read_text(encoding="utf-8").strip()
        return snapshot if snapshot.is_dir() else None
    if (snapshots / revision).is_dir():  # a commit hash given as revision
        return snapshots / revision
    candidates = sorted(p for p in snapshots.glob("*") if p.is_dir()) if snapshots.is_dir() else []
    return candidates[0] if len(candidates) == 1 else None


def _load(source: Path, kind: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    auto = AutoModelForMaskedLM if kind == "masked" else AutoModelForCausalLM
    common: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    with offline():
        # fp32 master weights whatever the hub stores (Llama 3.2: bf16): transformers 5 keeps the stored dtype by
        # default, and AdamW steps of lr 5e-5 on bf16 weights mostly round away; bf16 is autocast's business.
        model = auto.from_pretrained(source, use_safetensors=True, dtype=torch.float32, **common)
        tokenizer = AutoTokenizer.from_pretrained(source, **common)
    return model, tokenizer


def architecture_kind(source: Path) -> str | None:
    """masked or causal from the `architectures` of a model folder's config.json (`...ForMaskedLM`,
    `...ForCausalLM`); None when it does not say (no config.json, another head)."""
    try:
        architectures = json.loads((source / "config.json").read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, ValueError, AttributeError):
        return None
    kinds = {
        kind
        for kind, head in (("masked", "ForMaskedLM"), ("causal", "ForCausalLM"))
        for a in architectures
        if head in str(a)
    }
    return kinds.pop() if len(kinds) == 1 else None


def resolve_hub_model(
    hub_id: str,
    kind: str,
    out_dir: str | Path,
    local_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
    kind_key: str = "kind",
) -> dict[str, Any]:
    """Copy a pretrained model into a fairforget model dir (safetensors + manifest); returns the manifest.

    Source: `local_path` if given, else `hub_id` from the hub cache (`cache_dir`, default from HF_HUB_CACHE /
    HF_HOME). Raises ModelError naming the fetch command if it is not there, refuses pickled weights, and, before
    loading anything, a `kind` other than the one the model's config.json declares (naming `kind_key`).
    """
    if kind not in KINDS:
        raise ModelError(f"{hub_id}: kind must be one of {KINDS}, got {kind!r}")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if local_path is not None:
        source = Path(local_path)
        if not source.is_dir():
            raise ModelError(f"local_path {source} (model {hub_id}): directory not found")
        where = f"local path {source}"
    else:
        snapshot = cached_snapshot(hub_id, cache)
        if snapshot is None:
            raise ModelError(f"{hub_id}: not found in the Hugging Face cache {cache}; {fetch_hint(hub_id, cache)}")
        source, where = snapshot, f"the Hugging Face cache snapshot {snapshot}"
    if not any(source.glob("*.safetensors")):
        pickles = sorted(p.name for p in source.iterdir() if p.suffix in PICKLE_SUFFIXES)
        found = f"only pickled weights ({', '.join(pickles)})" if pickles else "no weights"
        raise ModelError(
            f"{hub_id}: {where} holds {found}; fairforget loads safetensors only "
            "(convert with save_pretrained(dir, safe_serialization=True))"
        )
    declared = architecture_kind(source)
    if declared is not None and declared != kind:
        raise ModelError(
            f"{kind_key} is {kind!r}, but {source / 'config.json'} declares a {declared} language model "
            f"({hub_id}); set {kind_key}: {declared}"
        )
    try:
        model, tokenizer = _load(source, kind)
    except (OSError, ValueError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        # a local folder that does not load is not fixed by fetching from the hub
        hint = "" if local_path is not None else f"; {fetch_hint(hub_id, cache)}"
        raise ModelError(f"{hub_id}: cannot load from {where} ({message}){hint}") from err
    log.info("resolved %s from %s (%s)", hub_id, source, type(model).__name__)
    Path(out_dir, MANIFEST).unlink(missing_ok=True)
    return save_model_dir(
        model,
        tokenizer,
        out_dir,
        kind,
        extra={
            "source": {
                "type": "hub",
                "hub_id": hub_id,
                "local_path": str(local_path) if local_path is not None else None,
                "commit": source.name if local_path is None else None,
            }
        },
    )
