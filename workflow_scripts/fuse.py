"""Rule fuse: the base model and a debiased checkpoint interpolated in weight space at one weight alpha."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.fusion.weights import fuse_into
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
fuse_into(
    base_dir=snakemake.input.base_model,  # noqa: F821
    base_sidecar=snakemake.input.base_sidecar,  # noqa: F821
    debiased_dir=snakemake.input.model,  # noqa: F821
    debiased_sidecar=snakemake.input.sidecar,  # noqa: F821
    alpha=snakemake.params.alpha,  # noqa: F821
    out_dir=snakemake.output.model,  # noqa: F821
    sidecar=snakemake.output.sidecar,  # noqa: F821
    run=snakemake.params.run,  # noqa: F821
    code=snakemake.params.code,  # noqa: F821
)
