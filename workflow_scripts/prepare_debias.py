"""Rule prepare_debias: pretraining text + planted corpus + pairs -> debiasing corpus, replay text, pairs, CDA word
pairs."""

from pathlib import Path

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.debias import prepare_debias
from fairforget.data.leakage import EvaluationFiles
from fairforget.data.occupations import load_occupation_split
from fairforget.data.resources import verify_shipped_inputs
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
verify_shipped_inputs(snakemake.input)  # noqa: F821  (an edited resource fails here, named)
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
split = load_occupation_split(inputs.male, inputs.female, params.occupation_split)
prepare_debias(
    pretrain_jsonl=inputs.pretrain,
    planted_jsonl=inputs.planted,
    train_pairs_jsonl=inputs.train_pairs,
    winobias_dir=Path(inputs.winobias_dev[0]).parent,
    cda_dir=Path(inputs.word_lists[0]).parent,
    evaluation=EvaluationFiles.from_rule_inputs(inputs=inputs, occupation_split=split),
    occupation_split=split,
    source_out=outputs.source,
    pairs_out=outputs.pairs,
    word_pairs_out=outputs.word_pairs,
    meta_out=outputs.meta,
    settings=params.settings,
    seed=params.seed,
    chunk_words=(params.general["min_words"], params.general["max_words"]),
    num_proc=snakemake.threads,  # noqa: F821
    replay_out=outputs.replay,
    general_settings=params.general,
)
