"""Stage 2, base models: every `models.<name>` becomes a model directory with its manifest and .sha256 sidecar.

How a model is made depends on its `source`, one registered `ModelSource` each (`base_models.source`); the
shipped ones live in `base_models.sources` (toy pretraining, hub cache, local folder). `base_models.stage` is
the rule's entry point.
"""
