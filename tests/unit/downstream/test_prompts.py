"""Zero-shot prompt templates (fairforget.downstream.prompts) assume the data stage's label order."""

from __future__ import annotations

from fairforget.data import glue
from fairforget.downstream.prompts import TEMPLATES


def test_templates_assume_the_data_stage_label_order():
    for name, task in glue.TASKS.items():
        if name in TEMPLATES:
            assert TEMPLATES[name].label_names == task.label_names, name
