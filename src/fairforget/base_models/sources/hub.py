"""`hub` and `local`: a pretrained model copied from the local Hugging Face cache or a local folder, never
downloaded (fairforget.models.hub)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fairforget.base_models.source import MODEL_SOURCES, ModelSource


@MODEL_SOURCES.register("hub")
class HubSource(ModelSource):
    """`models.<name>.hub_id` from the hub cache (fetched beforehand with `hf download <hub_id>`)."""

    required_keys = ("hub_id",)

    def build(
        self, model_name: str, model_cfg: Mapping[str, Any], texts_paths: Sequence[str | Path], out_dir: str | Path
    ) -> dict[str, Any]:
        from fairforget.models.hub import resolve_hub_model

        hub_id = model_cfg.get("hub_id") or model_name
        return resolve_hub_model(
            hub_id,
            model_cfg.get("kind", ""),
            out_dir,
            local_path=model_cfg.get("local_path"),
            kind_key=f"models.{model_name}.kind",
        )


@MODEL_SOURCES.register("local")
class LocalSource(HubSource):
    """A model folder at `models.<name>.local_path` (safetensors weights, no pickles)."""

    required_keys = ("local_path",)
