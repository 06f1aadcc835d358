"""Rule build_base_model: make one base model directory from its configured source, then its .sha256 sidecar."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fairforget.base_models.source import MODEL_SOURCES, ModelSource
from fairforget.errors import ConfigError
from fairforget.models.modeldir import annotate_manifest, write_sidecar

if TYPE_CHECKING:  # the job type only; base_models depends on training only through the toy source
    from fairforget.training.job import BaseModelJob


def model_source(model_name: str, model_cfg: Mapping[str, Any]) -> ModelSource:
    """The registered source of `models.<model_name>`, after checking the keys it requires."""
    source = model_cfg.get("source")
    source_class = MODEL_SOURCES.get(str(source), key=f"models.{model_name}.source")
    for key in source_class.required_keys:
        if not model_cfg.get(key):
            raise ConfigError(f"config key 'models.{model_name}.{key}' is required when source is '{source}'")
    return source_class()


def build_base_model(job: BaseModelJob) -> dict[str, Any]:
    """Stage 2 entry point: build `models.<job.model>` with its source into `job.out_dir`, write the sidecar;
    returns the manifest. The job's code identity (fairforget.workflow.code_params) is recorded in the manifest."""
    manifest = model_source(job.model, job.model_cfg).build(job.model, job.model_cfg, job.texts, job.out_dir)
    if job.code is not None:
        manifest = annotate_manifest(job.out_dir, {"code": dict(job.code)})
    write_sidecar(job.out_dir, job.sidecar)
    return manifest
