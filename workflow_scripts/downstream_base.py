"""Rule downstream_base: one base model x its GLUE task(s) -> one result JSON per task and downstream seed."""

import _downstream

_downstream.run(snakemake, base_sidecar=None)  # noqa: F821  (a base model: its own hash is the base hash)
