"""Rule prepare_probes: CrowS-Pairs, WinoBias test, StereoSet -> evaluation-only probe sets."""

from pathlib import Path

import _bootstrap  # noqa: F401  (puts ../src on sys.path)

from fairforget.data.occupations import load_occupation_split
from fairforget.data.probes import prepare_probes
from fairforget.data.resources import verify_shipped_inputs
from fairforget.workflow.logs import log_to

log_to(snakemake.log[0], attempt=snakemake.resources.get("attempt"))  # noqa: F821
verify_shipped_inputs(snakemake.input)  # noqa: F821  (an edited resource fails here, named)
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params  # noqa: F821
prepare_probes(
    crows_csv=inputs.crows,
    stereoset_jsonl=inputs.stereoset,
    winobias_dir=Path(inputs.winobias_test[0]).parent,
    crows_out=outputs.crows_pairs,
    winobias_out=outputs.winobias,
    stereoset_out=outputs.stereoset,
    meta_out=outputs.meta,
    settings=params.settings,
    seed=params.seed,
    occupation_split=load_occupation_split(inputs.male, inputs.female, params.occupation_split),
)
