"""Stage 5, downstream (GLUE) evaluation of base models and debiased checkpoints.

- `stage.evaluate_downstream(...)`: one checkpoint x task x downstream seed -> result JSON (the rule's entry point)
- `finetune.finetune_and_evaluate(...)`: classification / regression head fine-tuning (full or LoRA)
- `zeroshot.zeroshot_evaluate(...)`: lm-evaluation-harness-style multiple choice for causal LMs
- `linear_probe.probe_and_evaluate(...)`: a linear classifier on the frozen model's mean-pooled features
- `tasks.load_task(...)`, `settings.parse_settings(...)`, `prompts.TEMPLATES`
"""
