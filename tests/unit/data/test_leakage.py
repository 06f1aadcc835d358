"""The occupation split and the leakage checks on cases small enough to check by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairforget.data.leakage import EvaluationIndex, EvaluationSet, ngrams, words
from fairforget.data.leakage_card import write_leakage_card
from fairforget.data.occupations import split_occupations
from fairforget.data.texttable import write_text_table
from fairforget.errors import ConfigError, DataError

OCCUPATIONS = {
    "driver": "male",
    "chief": "male",
    "construction worker": "male",
    "CEO": "male",
    "nurse": "female",
    "clerk": "female",
    "baker": "female",
    "editor": "female",
}


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


def _index() -> EvaluationIndex:
    return EvaluationIndex(
        [
            EvaluationSet("bias", ("The nurse said that she would arrive at the station soon.",), True),
            EvaluationSet("report_only", ("Many people live in the old town near the big river today.",), False),
        ]
    )


def test_leak_rule_sentence_identity_and_bias_bearing_8grams() -> None:
    index = _index()
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


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _arrow(path: Path, records: list[dict]) -> Path:
    """A debiasing corpus file (source.arrow) of `records` {text, origin}."""
    write_text_table(path, records, ("text", "origin"))
    return path


def test_card_reports_everything_and_fails_only_on_forbidden_overlap(tmp_path: Path) -> None:
    split = split_occupations(OCCUPATIONS, 0.5, seed=0)
    train_occ, eval_occ = sorted(split.training)[0], sorted(split.evaluation)[0]
    files = {
        "pretrain": _jsonl(
            tmp_path / "pretrain.jsonl",
            [
                {"text": "Many people live in the old town near the big river , it is said ."},  # report-only 8-gram
                {"text": "Nothing shared here at all ."},
            ],
        ),
        "planted": _jsonl(tmp_path / "planted.jsonl", [{"text": f"the {train_occ} said that he left ."}]),
        "source": _arrow(
            tmp_path / "source.arrow", [{"text": f"the {train_occ} said that he left .", "origin": "planted"}]
        ),
        "pairs": _jsonl(tmp_path / "pairs.jsonl", [{"stereo": f"the {train_occ} ran .", "anti": "the x ran ."}]),
        "winobias": _jsonl(
            tmp_path / "winobias.jsonl",
            [{"stereo": f"the {eval_occ} ran and he fell .", "anti": f"the {eval_occ} ran and she fell ."}],
        ),
    }
    args = [files[k] for k in ("pretrain", "planted", "source", "pairs", "winobias")]
    card = write_leakage_card(*args, _index(), split, tmp_path / "card.json", tmp_path / "card.md")
    assert card["passed"]
    assert card["overlap"]["general_pretrain"]["report_only"]["ngram_texts"] == 1
    assert card["overlap"]["general_pretrain"]["bias"]["ngram_texts"] == 0
    assert card["occupations"]["winobias_evaluated"] == [eval_occ]
    assert card["occupations"]["trained"]["planted_corpus"] == [train_occ]
    assert "| general_pretrain | 2 | 0 / 0 | 0 / 1 |" in (tmp_path / "card.md").read_text()

    # a bias-bearing 8-gram in the debiasing corpus and an evaluated occupation in the planted corpus both fail
    _arrow(files["source"], [{"text": "so the nurse said that she would arrive at the station .", "origin": "general"}])
    _jsonl(files["planted"], [{"text": f"the {eval_occ} said that he left ."}])
    with pytest.raises(DataError, match="debias_corpus: 1 text.*8-gram.*bias") as failure:
        write_leakage_card(*args, _index(), split, tmp_path / "card.json", tmp_path / "card.md")
    assert f"planted_corpus: trains on occupation(s) ['{eval_occ}']" in str(failure.value)
    card = json.loads((tmp_path / "card.json").read_text())
    assert not card["passed"] and len(card["violations"]) == 2


def test_the_card_streams_the_debiasing_corpus_block_by_block(tmp_path):
    """The card reads the debiasing corpus from its table one block at a time on every pass (it never holds the
    corpus): every row, in file order, across record batches."""
    from fairforget.data.leakage_card import TableTexts
    from fairforget.data.texttable import BLOCK_ROWS, TextTable, write_text_table

    rows = [{"text": f"text {i}", "origin": "planted" if i % 7 == 0 else "general"} for i in range(BLOCK_ROWS + 501)]
    write_text_table(tmp_path / "source.arrow", rows, ("text", "origin"))
    table = TextTable(tmp_path / "source.arrow", required=("text", "origin"))
    texts = TableTexts(table)
    assert len(texts) == len(rows)
    assert list(texts) == [r["text"] for r in rows] == list(texts)  # re-iterable
    assert list(TableTexts(table, "origin")) == [r["origin"] for r in rows]
    assert f"text {BLOCK_ROWS + 500}" in texts and "text -1" not in texts
