"""Rule downstream_base: one base model x GLUE task -> one result JSON per downstream seed."""

import _downstream

_downstream.run(snakemake, base_sidecar=None)  # noqa: F821  (a base model: its own hash is the base hash)
