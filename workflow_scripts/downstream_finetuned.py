"""Rule downstream_finetuned: one checkpoint x its GLUE task(s) -> one result JSON per task and downstream seed."""

import _downstream

_downstream.run(snakemake, base_sidecar=snakemake.input.base_sidecar)  # noqa: F821
