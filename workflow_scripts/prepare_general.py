"""Rule prepare_general: WikiText-2 valid/test -> pretrain.jsonl, heldout.jsonl, meta.json."""

import logging

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.general import prepare_general

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
prepare_general(
    snakemake.input.valid, snakemake.input.test,  # noqa: F821
    snakemake.output.pretrain, snakemake.output.heldout, snakemake.output.meta,  # noqa: F821
    settings=snakemake.params.settings, seed=snakemake.params.seed,  # noqa: F821
)
