"""Rule prepare_general: WikiText-2 valid/test -> pretrain.jsonl, heldout.jsonl, meta.json."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.general import prepare_general
from fairforget.data.resources import verify_shipped_inputs
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
verify_shipped_inputs(snakemake.input)  # noqa: F821  (an edited resource fails here, named)
prepare_general(
    valid_raw=snakemake.input.valid,  # noqa: F821
    test_raw=snakemake.input.test,  # noqa: F821
    pretrain_out=snakemake.output.pretrain,  # noqa: F821
    heldout_out=snakemake.output.heldout,  # noqa: F821
    meta_out=snakemake.output.meta,  # noqa: F821
    settings=snakemake.params.settings,  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
)
