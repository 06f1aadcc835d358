"""Rule leakage_card: the written training-side data vs every evaluation sentence -> R/data/leakage_card.{json,md}."""

import logging

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.leakage import EvaluationFiles
from fairforget.data.leakage_card import write_leakage_card
from fairforget.data.occupations import load_occupation_split
from fairforget.data.resources import verify_shipped_inputs
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
verify_shipped_inputs(snakemake.input)  # noqa: F821  (an edited resource fails here, named)
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
split = load_occupation_split(inputs.male, inputs.female, params.occupation_split)
evaluation = EvaluationFiles.from_rule_inputs(inputs=inputs, occupation_split=split).index()
card = write_leakage_card(
    pretrain_jsonl=inputs.pretrain,
    planted_jsonl=inputs.planted,
    source=inputs.source,
    pairs_jsonl=inputs.pairs,
    winobias_jsonl=inputs.winobias,
    index=evaluation,
    split=split,
    json_out=outputs.card,
    md_out=outputs.markdown,
)
logging.info(
    "leakage card passed: %d training sets x %d evaluation sets",
    len(card["training_sets"]),
    len(card["evaluation_sets"]),
)
