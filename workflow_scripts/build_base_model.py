"""Rule build_base_model: build a base model from its source (toy pretraining, hub cache, local folder)."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)
import torch

from fairforget.base_models.stage import build_base_model
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs = snakemake.input  # noqa: F821
build_base_model(
    model_name=snakemake.params.model_name,  # noqa: F821
    model_cfg=snakemake.params.model_cfg,  # noqa: F821
    texts_paths=[inputs.general, inputs.planted] if "general" in inputs.keys() else [],
    out_dir=snakemake.output.model,  # noqa: F821
    sidecar=snakemake.output.sidecar,  # noqa: F821
    code=snakemake.params.code,  # noqa: F821
)
