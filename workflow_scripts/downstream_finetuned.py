"""Rules downstream_finetuned / downstream_fused: one checkpoint x its GLUE task(s) -> one result JSON per task
and downstream seed."""

import _downstream

_downstream.run(snakemake)  # noqa: F821
