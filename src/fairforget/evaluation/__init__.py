"""Stage 4: forgetting statistics and bias metrics of base models and checkpoints (`evaluation.stage`)."""

from fairforget.evaluation.stage import EVALUATION_VERSION, evaluate_base, evaluate_checkpoint

__all__ = ["EVALUATION_VERSION", "evaluate_base", "evaluate_checkpoint"]
