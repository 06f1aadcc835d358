"""Rules downstream_base / downstream_finetuned: one checkpoint x GLUE task -> one result JSON per downstream
seed (params.dseeds, in the order of the outputs)."""

import logging
from pathlib import Path

import _bootstrap  # noqa: F401  (puts ../src on sys.path)
import torch

from fairforget.downstream.stage import evaluate_downstream

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, force=True,  # noqa: F821
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs, params, wildcards = snakemake.input, snakemake.params, snakemake.wildcards  # noqa: F821
outputs = list(snakemake.output)  # noqa: F821
if len(outputs) != len(params.dseeds):
    raise SystemExit(f"downstream.py: {len(outputs)} outputs but {len(params.dseeds)} downstream seeds")
for dseed, out_json in zip(params.dseeds, outputs):
    evaluate_downstream(
        model_dir=inputs.model,
        model_sidecar=inputs.sidecar,
        task_dir=Path(inputs.meta).parent,
        task=wildcards.task,
        seed=int(dseed),
        cfg=params.downstream,
        out_json=out_json,
        store_dir=params.store_dir,
        mode_override=params.mode_override,
        model_name=wildcards.model,
        base_sidecar=inputs.get("base_sidecar"),
        run=params.run,
        progress=False,
    )
