"""The occupation split and the leakage checks on cases small enough to check by hand."""

from __future__ import annotations

import pytest

from fairforget.data.leakage import ngrams, words
from fairforget.data.occupations import split_occupations
from fairforget.errors import ConfigError
from leakage_helpers import OCCUPATIONS, evaluation_index


def test_split_is_disjoint_stratified_and_seeded() -> None:
    split = split_occupations(OCCUPATIONS, 0.5, seed=3)
    assert set(split.training) | set(split.evaluation) == set(OCCUPATIONS)
    assert not set(split.training) & set(split.evaluation)
    for side in (split.training, split.evaluation):  # 2 of the 4 of each gender on each side
        assert sorted(side.values()) == ["female", "female", "male", "male"]
    assert split_occupations(OCCUPATIONS, 0.5, seed=3) == split
    draws = {frozenset(split_occupations(OCCUPATIONS, 0.5, seed=s).evaluation) for s in range(10)}
    assert len(draws) > 1  # the seed matters
    assert len(split_occupations(OCCUPATIONS, 0.25, seed=0).evaluation) == 2  # round(0.25 x 4) per gender
    record = split.record()
    assert record["seed"] == 3 and record["evaluation_fraction"] == 0.5
    assert sorted(record["training"] + record["evaluation"]) == sorted(OCCUPATIONS)


@pytest.mark.parametrize("fraction", [0.05, 0.95])
def test_a_split_that_empties_a_side_names_the_key(fraction: float) -> None:
    with pytest.raises(ConfigError, match=r"data\.occupation_split\.evaluation_fraction"):
        split_occupations(OCCUPATIONS, fraction, seed=0)


def test_mentions_whole_words_plural_and_case() -> None:
    split = split_occupations(OCCUPATIONS, 0.5, seed=0)
    assert split.mentions("The construction workers met [the CEO] and the Nurse.") == {
        "construction worker",
        "CEO",
        "nurse",
    }
    assert split.mentions("A screwdriver, a bakery and an editorial.") == frozenset()


def test_pairs_on_side_keeps_only_pairs_naming_that_side() -> None:
    split = split_occupations(OCCUPATIONS, 0.5, seed=0)
    train_a, train_b = sorted(split.training)[:2]
    eval_a = sorted(split.evaluation)[0]
    pairs = [
        {
            "stereo": f"the {train_a} met the {train_b} and he left .",
            "anti": f"the {train_a} met the {train_b} and she left .",
        },
        {
            "stereo": f"the {train_a} met the {eval_a} and he left .",
            "anti": f"the {train_a} met the {eval_a} and she left .",
        },
    ]
    kept, dropped = split.pairs_on_side(pairs, "training")
    assert dropped == 1 and kept == [{**pairs[0], "occupations": sorted([train_a, train_b])}]
    kept, dropped = split.pairs_on_side(pairs, "evaluation")
    assert kept == [] and dropped == 2


def test_words_and_ngrams() -> None:
    assert words("Don't stop, he said.") == words("don 't stop , he said .") == ["don", "t", "stop", "he", "said"]
    assert ngrams("a b c", 2) == {("a", "b"), ("b", "c")}
    assert ngrams("a b c", 4) == set()


def test_leak_rule_sentence_identity_and_bias_bearing_8grams() -> None:
    index = evaluation_index()
    assert index.leak("the  NURSE said that she would arrive at the station soon.") == "sentence"
    # 8 consecutive words of the bias-bearing sentence ...
    assert index.leak("Yesterday: nurse said that she would arrive at the airport.") == "ngram"
    # ... but 7 are not enough,
    assert index.leak("Yesterday: nurse said that she would arrive at.") is None
    # and an 8-gram of a report-only sentence is not a leak, while the sentence itself is
    assert index.leak("Many people live in the old town near the sea.") is None
    assert index.leak("many people live in the old town near the big river today .") == "sentence"
    kept, dropped = index.without_leaks(
        [{"text": "fine text"}, {"stereo": "x", "anti": "the nurse said that she would arrive at the station soon ."}]
    )
    assert kept == [{"text": "fine text"}] and dropped == {"sentence": 1, "ngram": 0}
