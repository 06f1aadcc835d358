"""Shipped model sources; each module registers one or more with MODEL_SOURCES (fairforget.base_models.source)."""
