"""Rule downstream_finetuned: one checkpoint x GLUE task -> one result JSON per downstream seed."""

import _downstream

_downstream.run(snakemake, base_sidecar=snakemake.input.base_sidecar)  # noqa: F821
