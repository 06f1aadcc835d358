"""CDA gender swapping: both directions, case, punctuation, possessives, word boundaries, augmentation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fairforget.data.cda import (
    augment,
    contains_gendered_word,
    load_word_pairs,
    read_word_pairs_json,
    swap_gender,
    swap_map,
    word_list_files,
)
from fairforget.errors import ConfigError, DataError
from fairforget.io import write_json

PAIRS = load_word_pairs()  # the shipped bias-bench "gender" list


@pytest.mark.parametrize(
    "text, expected",
    [
        ("he said", "she said"),
        ("she said", "he said"),
        ("the man and the woman", "the woman and the man"),
        ("his brother met her sister", "her sister met his brother"),
        ("I saw him", "I saw her"),
        ("the king and queen", "the queen and king"),
    ],
)
def test_swap_both_directions(text: str, expected: str) -> None:
    assert swap_gender(text, PAIRS) == expected


def test_swap_preserves_case() -> None:
    assert swap_gender("He left. HE LEFT. he left.", PAIRS) == "She left. SHE LEFT. she left."
    assert swap_gender("Mr. Smith met the Queen", PAIRS) == "Ms. Smith met the King"


def test_swap_keeps_punctuation_and_possessives() -> None:
    assert swap_gender('"He," she said; "the man\'s hat!"', PAIRS) == '"She," he said; "the woman\'s hat!"'
    assert swap_gender("John's father's car", PAIRS) == "John's mother's car"
    assert swap_gender("he'd go (with him).", PAIRS) == "she'd go (with her)."


def test_swap_respects_word_boundaries() -> None:
    text = "the manager will manage the mankind heritage; hers is a shepherd's theme"
    assert swap_gender(text, PAIRS) == text
    # hyphenated compounds are one word and stay unswapped
    assert swap_gender("a man-made lake", PAIRS) == "a man-made lake"
    assert swap_gender("businessman and man", PAIRS) == "businesswoman and woman"


def test_ambiguous_words_follow_bias_bench_rule() -> None:
    # [him, her] then [his, her] in the list: the later pair wins, so "her" always becomes "his"
    mapping = swap_map(PAIRS)
    assert mapping["her"] == "his" and mapping["him"] == "her" and mapping["his"] == "her"
    assert swap_gender("I saw her", PAIRS) == "I saw his"
    assert swap_map([("a", "b"), ("c", "b")])["b"] == "c"


BIJECTIVE = [
    "he",
    "she",
    "man",
    "woman",
    "king",
    "queen",
    "father",
    "mother",
    "sons",
    "daughters",
    "himself",
    "herself",
]
NEUTRAL = ["the", "table", "manage", "shepherd", "ran", "quickly", "human", "them"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(BIJECTIVE + NEUTRAL),
            st.sampled_from(["", ",", ".", "'s"]),
            st.sampled_from(["lower", "upper", "title"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_swap_twice_is_identity_for_one_to_one_words(tokens: list[tuple[str, str, str]]) -> None:
    words = [getattr(w, case)() + punct for w, punct, case in tokens]
    text = " ".join(words)
    assert swap_gender(swap_gender(text, PAIRS), PAIRS) == text
    assert (swap_gender(text, PAIRS) != text) == any(w in BIJECTIVE for w, _, _ in tokens)


def test_augment_two_sided_keeps_original_and_swap() -> None:
    records = [{"id": "a", "text": "he is a doctor"}, {"id": "b", "text": "the sky is blue"}]
    out = augment(records, PAIRS, sided="two")
    assert [(r["id"], r["text"], r["counterfactual"]) for r in out] == [
        ("a", "he is a doctor", False),
        ("a:cda", "she is a doctor", True),
        ("b", "the sky is blue", False),
    ]


def test_augment_one_sided_keeps_only_counterfactual() -> None:
    records = [{"id": "a", "text": "he is a doctor"}, {"id": "b", "text": "the sky is blue"}]
    out = augment(records, PAIRS, sided="one")
    assert [(r["id"], r["text"]) for r in out] == [("a:cda", "she is a doctor"), ("b", "the sky is blue")]
    dropped = augment(records, PAIRS, sided="one", keep_ungendered=False)
    assert [r["text"] for r in dropped] == ["she is a doctor"]
    with pytest.raises(ConfigError):
        augment(records, PAIRS, sided="both")  # type: ignore[arg-type]


def test_contains_gendered_word() -> None:
    assert contains_gendered_word("Her plan", PAIRS)
    assert not contains_gendered_word("the manager's plan", PAIRS)


def test_word_lists_orientation_and_unknown_name() -> None:
    definitional = load_word_pairs(["debiaswe_definitional_pairs"])
    assert definitional[0] == ("man", "woman")  # the file stores [female, male]; loaded as [male, female]
    with pytest.raises(ConfigError, match="data.debias.word_lists"):
        word_list_files(["no_such_list"], "unused")


def test_word_pairs_json_roundtrip_and_errors(tmp_path) -> None:
    path = tmp_path / "word_pairs.json"
    write_json(path, {"word_lists": ["x"], "pairs": [["he", "she"], ["man", "woman"]]})
    assert read_word_pairs_json(path) == (("he", "she"), ("man", "woman"))
    write_json(path, {"pairs": [["he"]]})
    with pytest.raises(DataError, match=r"pairs\[0\]"):
        read_word_pairs_json(path)
