"""Rule aggregate_table: one row per fine-tuning run (tables/runs.parquet, .csv, data_dictionary.md)."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.analysis.table import aggregate_table
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
aggregate_table(
    eval_paths=snakemake.input.evals,  # noqa: F821
    downstream_paths=snakemake.input.downstream,  # noqa: F821
    trajectory_paths=snakemake.input.trajectories,  # noqa: F821
    meta_paths=snakemake.input.meta,  # noqa: F821
    summary_paths=snakemake.input.summaries,  # noqa: F821
    model_sidecars=snakemake.input.model_sidecars,  # noqa: F821
    parquet=snakemake.output.parquet,  # noqa: F821
    csv=snakemake.output.csv,  # noqa: F821
    dictionary=snakemake.output.dictionary,  # noqa: F821
    config=snakemake.config,  # noqa: F821
    code_root=snakemake.params.code_root,  # noqa: F821
)
