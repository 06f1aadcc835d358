"""Rule finetune: one debiasing fine-tuning run -> model dir + sidecar, trajectory, summary.

Run as a command (not a Snakemake `script:`) so that the rule can start it under `accelerate launch` on
several GPUs: `python finetune.py --job JSON --threads N`; the job (fairforget.training.job.FinetuneJob) is
built by rules/inputs/finetune.smk.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bootstrap  # noqa: F401,E402  (puts ../src on sys.path)

from fairforget.training.finetune import run_finetune_job  # noqa: E402
from fairforget.training.job import FinetuneJob  # noqa: E402
from fairforget.workflow.logs import log_to  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--job", required=True, help="the FinetuneJob as JSON (rules/inputs/finetune.smk)")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--attempt", type=int, default=None, help="Snakemake's attempt (its own log per attempt)")
args = parser.parse_args()
job = FinetuneJob.from_json(args.job)
# Only the main process writes the log file; other accelerate processes log to stderr.
is_main = os.environ.get("RANK", "0") == "0"
log_to(job.log if is_main else None, attempt=args.attempt)
run_finetune_job(job, threads=args.threads)
