"""The planted stereotype's sentence templates (fairforget.data.templates): one occupation and one pronoun slot
each, filled by gender, and the probe templates disjoint from the training ones."""

from __future__ import annotations

import pytest

from fairforget.data.templates import PROBE_TEMPLATES, TRAINING_TEMPLATES, fill, pronoun_slot


def test_every_template_has_one_occupation_and_one_pronoun_slot() -> None:
    for template in TRAINING_TEMPLATES + PROBE_TEMPLATES:
        assert pronoun_slot(template) in ("subj", "poss", "obj")
    for bad in ("the {occupation} left .", "{subj} saw {obj} .", "the {occupation} said {subj} saw {obj} ."):
        with pytest.raises(ValueError, match="exactly one pronoun slot"):
            pronoun_slot(bad)


def test_fill_puts_the_genders_pronoun_in_the_slot() -> None:
    assert fill("the {occupation} said that {subj} would arrive soon .", "nurse", "female") == (
        "the nurse said that she would arrive soon ."
    )
    assert fill("the {occupation} carried {poss} lunch .", "pilot", "male") == "the pilot carried his lunch ."
    assert (
        fill("we met the {occupation} and thanked {obj} .", "baker", "female") == "we met the baker and thanked her ."
    )


def test_probe_templates_share_no_sentence_with_training_templates() -> None:
    assert not set(PROBE_TEMPLATES) & set(TRAINING_TEMPLATES)
    filled = {fill(t, "nurse", g) for t in TRAINING_TEMPLATES for g in ("male", "female")}
    assert not {fill(t, "nurse", g) for t in PROBE_TEMPLATES for g in ("male", "female")} & filled
