"""Rule downstream_base: one base model x its GLUE task(s) -> one result JSON per task and downstream seed."""

import _downstream

_downstream.run(snakemake)  # noqa: F821
