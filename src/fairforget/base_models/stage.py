"""Rule build_base_model: make one base model directory from its configured source, then its .sha256 sidecar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fairforget.base_models.source import MODEL_SOURCES, ModelSource
from fairforget.errors import ConfigError
from fairforget.models.modeldir import annotate_manifest, write_sidecar


def model_source(model_name: str, model_cfg: Mapping[str, Any]) -> ModelSource:
    """The registered source of `models.<model_name>`, after checking the keys it requires."""
    source = model_cfg.get("source")
    source_class = MODEL_SOURCES.get(str(source), key=f"models.{model_name}.source")
    for key in source_class.required_keys:
        if not model_cfg.get(key):
            raise ConfigError(f"config key 'models.{model_name}.{key}' is required when source is '{source}'")
    return source_class()


def build_base_model(
    *,
    model_name: str,
    model_cfg: Mapping[str, Any],
    texts_paths: Sequence[str | Path],
    out_dir: str | Path,
    sidecar: str | Path,
    code: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Stage 2 entry point: build `models.<model_name>` with its source into `out_dir`, write the sidecar;
    returns the manifest. `texts_paths`: the pretraining text, for sources that train on it (toy); `code`: the
    job's code identity (fairforget.workflow.code_params), recorded in the manifest."""
    manifest = model_source(model_name, model_cfg).build(model_name, model_cfg, texts_paths, out_dir)
    if code is not None:
        manifest = annotate_manifest(out_dir, {"code": dict(code)})
    write_sidecar(out_dir, sidecar)
    return manifest
