"""Rule leakage_card: the written training-side data vs every evaluation sentence -> R/data/leakage_card.{json,md}."""

import logging

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.leakage import EvaluationFiles
from fairforget.data.leakage_card import write_leakage_card
from fairforget.data.occupations import load_occupation_split

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
split = load_occupation_split(inputs.male, inputs.female, params.occupation_split)
evaluation = EvaluationFiles(inputs.crows, inputs.stereoset, tuple(inputs.winobias_test), (inputs.planted_probes,),
                             split).index()
card = write_leakage_card(inputs.pretrain, inputs.planted, inputs.source, inputs.pairs, inputs.winobias, evaluation,
                          split, outputs.card, outputs.markdown)
logging.info("leakage card passed: %d training sets x %d evaluation sets", len(card["training_sets"]),
             len(card["evaluation_sets"]))
