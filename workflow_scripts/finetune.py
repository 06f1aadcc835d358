"""Rule finetune: one debiasing fine-tuning run -> model dir + sidecar, trajectory, summary.

Run as a command (not a Snakemake `script:`) so that the rule can start it under `accelerate launch` on
several GPUs: `python finetune.py --spec JSON --threads N`; the spec is built by rules/finetune.smk.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _bootstrap  # noqa: F401,E402  (puts ../src on sys.path)

from fairforget.training.finetune import run_finetune_spec  # noqa: E402
from fairforget.workflow.logs import log_to  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--spec", required=True, help="JSON object written by rules/finetune.smk")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--attempt", type=int, default=None, help="Snakemake's attempt (its own log per attempt)")
args = parser.parse_args()
spec = json.loads(args.spec)
# Only the main process writes the log file; other accelerate processes log to stderr.
is_main = os.environ.get("RANK", "0") == "0"
log_to(spec["log"] if is_main else None, attempt=args.attempt)
run_finetune_spec(spec=spec, threads=args.threads)
