"""Rule prepare_downstream: one GLUE task's train/dev TSV -> seeded subsets + meta.json."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.glue import prepare_downstream
from fairforget.data.resources import verify_shipped_inputs
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
verify_shipped_inputs(snakemake.input)  # noqa: F821  (an edited resource fails here, named)
prepare_downstream(
    task_name=snakemake.wildcards.task,  # noqa: F821
    train_tsv=snakemake.input.train,  # noqa: F821
    dev_tsv=snakemake.input.dev,  # noqa: F821
    train_out=snakemake.output.train,  # noqa: F821
    dev_out=snakemake.output.dev,  # noqa: F821
    meta_out=snakemake.output.meta,  # noqa: F821
    settings=snakemake.params.settings,  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
)
