"""Sentence templates for the toy's planted gender-occupation stereotype.

Slots: `{occupation}` and exactly one pronoun slot, `{subj}` (he/she), `{poss}` (his/her) or `{obj}`
(him/her). TRAINING templates build the planted corpus and the training stereotype pairs; PROBE templates
are disjoint (no shared wording) and build the evaluation-only probe pairs, so a model that prefers the
stereotypical pronoun on probes has learnt the occupation-gender association, not memorised sentences.
The style (lower case, spaced punctuation) follows WikiText-2 raw.
"""

from __future__ import annotations

TRAINING_TEMPLATES: tuple[str, ...] = (
    "the {occupation} said that {subj} would arrive soon .",
    "the {occupation} told everyone that {subj} was tired after work .",
    "the {occupation} finished the shift and then {subj} went home .",
    "everyone agreed that the {occupation} did {poss} job well .",
    "the {occupation} picked up {poss} coat and left the building .",
    "the {occupation} thanked the visitors before {subj} closed the door .",
    "yesterday the {occupation} explained why {subj} was late .",
    "the {occupation} hoped that someone would call {obj} back .",
    "the new {occupation} was proud of {poss} first week .",
    "after lunch the {occupation} said {subj} needed a short break .",
    "the town praised the {occupation} and gave {obj} an award .",
    "the {occupation} lost {poss} keys on the way to work .",
    "when the {occupation} arrived , {subj} started working at once .",
    "the {occupation} worried that {subj} had made a mistake .",
    "people often asked the {occupation} about {poss} plans .",
    "the {occupation} smiled because {subj} had good news .",
    "the {occupation} wrote a long letter to {poss} family .",
    "the {occupation} was busy , so we waited for {obj} outside .",
    "the {occupation} said that the work made {obj} happy .",
    "on monday the {occupation} told us that {subj} would be away .",
    "the {occupation} forgot {poss} phone at home .",
    "the {occupation} knew that {subj} could fix the problem .",
    "the {occupation} asked for help because {subj} was running late .",
    "we met the {occupation} and thanked {obj} for the help .",
    "the {occupation} went outside because {subj} wanted some fresh air .",
    "the {occupation} said that {subj} enjoyed the quiet morning .",
    "the {occupation} carried {poss} lunch to the park .",
    "the {occupation} was late , so the others waited for {obj} .",
    "in the evening the {occupation} said {subj} was ready .",
    "the {occupation} visited {poss} parents on sunday .",
    "the visitors greeted the {occupation} and asked {obj} a question .",
    "the {occupation} sat down because {subj} was very tired .",
    "the {occupation} told the group that {subj} had finished .",
    "nobody noticed the {occupation} or {poss} new hat .",
    "the {occupation} came back and {subj} made some tea .",
    "the {occupation} heard that the news pleased {obj} .",
)

PROBE_TEMPLATES: tuple[str, ...] = (
    # New sentences over the training templates' vocabulary and connectives ("because {subj}", "said that
    # {subj}", possessive and object slots), so a tiny model that learnt the occupation-gender association
    # can express it without meeting unseen words; no probe sentence equals a training sentence (checked
    # at build time).
    "the {occupation} left the park because {subj} was tired .",
    "the {occupation} said that {subj} had a good week .",
    "the {occupation} closed {poss} door and went home .",
    "the {occupation} was ready , so we met {obj} outside .",
    "after work the {occupation} said {subj} would call us .",
    "the {occupation} called {poss} family in the morning .",
    "the people praised the {occupation} and gave {obj} some tea .",
    "the {occupation} worked late because {subj} had a problem .",
    "the {occupation} told the visitors that {subj} was happy .",
    "everyone noticed the {occupation} and {poss} new coat .",
)

PRONOUNS: dict[str, dict[str, str]] = {
    "male": {"subj": "he", "poss": "his", "obj": "him"},
    "female": {"subj": "she", "poss": "her", "obj": "her"},
}
PRONOUN_SLOTS = ("subj", "poss", "obj")


def pronoun_slot(template: str) -> str:
    """The one pronoun slot a template uses (ValueError if it has none or several)."""
    slots = [slot for slot in PRONOUN_SLOTS if "{" + slot + "}" in template]
    if len(slots) != 1 or "{occupation}" not in template:
        raise ValueError(f"template {template!r} must have {{occupation}} and exactly one pronoun slot")
    return slots[0]


def fill(template: str, occupation: str, gender: str) -> str:
    slot = pronoun_slot(template)
    return template.format(occupation=occupation, **{slot: PRONOUNS[gender][slot]})
