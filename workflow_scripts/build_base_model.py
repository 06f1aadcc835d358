"""Rule build_base_model: build a base model from its source (toy pretraining, hub cache, local folder)."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)
import torch

from fairforget.base_models.stage import build_base_model
from fairforget.training.job import BaseModelJob
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
build_base_model(BaseModelJob.from_json(snakemake.params.job))  # noqa: F821
