"""Rule prepare_debias: pretraining text + planted corpus + pairs -> debiasing corpus, pairs, CDA word pairs."""

import logging
from pathlib import Path

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.debias import prepare_debias
from fairforget.data.leakage import EvaluationFiles
from fairforget.data.occupations import load_occupation_split

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
split = load_occupation_split(inputs.male, inputs.female, params.occupation_split)
prepare_debias(
    inputs.pretrain, inputs.planted, inputs.train_pairs,
    Path(inputs.winobias_dev[0]).parent, Path(inputs.word_lists[0]).parent,
    EvaluationFiles(inputs.crows, inputs.stereoset, tuple(inputs.winobias_test), (inputs.planted_probes,), split),
    split, outputs.source, outputs.pairs, outputs.word_pairs, outputs.meta,
    settings=params.settings, seed=params.seed,
    extra_corpus=inputs.extra_corpus[0] if inputs.extra_corpus else None,
    chunk_words=(params.general.get("min_words", 8), params.general.get("max_words", 64)),
)
