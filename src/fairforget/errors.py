"""Exceptions with messages that name the file, line or config key at fault."""

from __future__ import annotations


class FairforgetError(Exception):
    """Base class: every error the workflow raises on bad input or a fault."""


class ConfigError(FairforgetError):
    """A config key is missing, unknown or has a bad value."""


class DataError(FairforgetError):
    """A data file is missing, malformed or inconsistent."""


class ModelError(FairforgetError):
    """A model directory is missing, partial, tampered with or in a refused format."""


class TrainingError(FairforgetError):
    """Training cannot go on (non-finite loss, bad state)."""


class StoreError(FairforgetError):
    """The result store is inconsistent or cannot be written."""
