"""Stage 4: forgetting statistics and bias metrics of base models and checkpoints (`evaluation.stage`, its typed
job `evaluation.job`). Import the submodules: this file imports nothing, so the rules' parse-time import of the job
stays light (no torch)."""
