"""`none`: no remedy; the objective trains all weights with no extra term (the reference arm)."""

from __future__ import annotations

from fairforget.training.plugins import REMEDIES, Remedy


@REMEDIES.register("none")
class NoRemedy(Remedy):
    name = "none"
    param_spec = {}  # takes no parameters
