"""Rule prepare_planted: WinoBias occupation lists -> planted corpus, training pairs, planted probe pairs."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.leakage import EvaluationFiles
from fairforget.data.occupations import load_occupation_split
from fairforget.data.planted import prepare_planted
from fairforget.data.resources import verify_shipped_inputs
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
verify_shipped_inputs(snakemake.input)  # noqa: F821  (an edited resource fails here, named)
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
split = load_occupation_split(inputs.male, inputs.female, params.occupation_split)
prepare_planted(
    occupation_split=split,
    evaluation=EvaluationFiles(
        crows_csv=inputs.crows,
        stereoset_jsonl=inputs.stereoset,
        winobias_test=tuple(inputs.winobias_test),
        occupation_split=split,
    ),
    corpus_out=outputs.corpus,
    train_pairs_out=outputs.train_pairs,
    probes_out=outputs.probes,
    meta_out=outputs.meta,
    settings=params.settings,
    seed=params.seed,
)
