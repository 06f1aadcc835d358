"""Rule fuse: the base model and a debiased checkpoint interpolated in weight space at one weight alpha."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.fusion.job import FuseJob
from fairforget.fusion.weights import fuse_into
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
fuse_into(FuseJob.from_json(snakemake.params.job))  # noqa: F821
