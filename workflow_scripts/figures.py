"""Rule figures: the six figures (PNG + PDF) with provenance sidecars."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.pipeline import figures
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
figures(
    table_path=snakemake.input.table,  # noqa: F821
    trajectory_paths=snakemake.input.trajectories,  # noqa: F821
    out_dir=snakemake.params.out_dir,  # noqa: F821
    config=snakemake.config,  # noqa: F821
    code_root=snakemake.params.code_root,  # noqa: F821
    fusion_table_path=snakemake.input.fusion[0] if snakemake.input.fusion else None,  # noqa: F821
)
