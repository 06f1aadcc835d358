"""Rule prepare_planted: WinoBias occupation lists -> planted corpus, training pairs, planted probe pairs."""

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.leakage import EvaluationFiles
from fairforget.data.planted import prepare_planted
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0])  # noqa: F821
inputs, outputs = snakemake.input, snakemake.output  # noqa: F821
prepare_planted(
    male_occupations=inputs.male,
    female_occupations=inputs.female,
    evaluation=EvaluationFiles(
        crows_csv=inputs.crows, stereoset_jsonl=inputs.stereoset, winobias_test=tuple(inputs.winobias_test)
    ),
    corpus_out=outputs.corpus,
    train_pairs_out=outputs.train_pairs,
    probes_out=outputs.probes,
    meta_out=outputs.meta,
    settings=snakemake.params.settings,  # noqa: F821
    seed=snakemake.params.seed,  # noqa: F821
)
