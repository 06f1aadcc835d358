"""The one logging set-up of the rule scripts (workflow_scripts/*.py)."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_to(log_file: str | None) -> None:
    """Send INFO and above of every logger to the rule's log file (stderr when None), replacing any earlier
    set-up, so that a rule's log holds what the package logged for that job."""
    logging.basicConfig(filename=log_file, level=logging.INFO, force=True, format=FORMAT)
