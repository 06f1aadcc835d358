"""Rule fusion_table: one row per fused run and weight alpha (0 and 1 from the base model and the run itself)."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.pipeline import fusion_table
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
inputs = snakemake.input  # noqa: F821
fusion_table(
    run_table_path=inputs.table,
    eval_paths=inputs.evals,
    downstream_paths=inputs.downstream,
    meta_paths=inputs.meta,
    sidecars=inputs.sidecars,
    parquet=snakemake.output.parquet,  # noqa: F821
    csv=snakemake.output.csv,  # noqa: F821
    config=snakemake.config,  # noqa: F821
    code_root=snakemake.params.code_root,  # noqa: F821
)
