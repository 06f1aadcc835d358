"""The debiasing corpus (fairforget.data.debias): the source records are general then planted records in the
seeded shuffle of their concatenation, whatever the block size they are read in, and the word count of the
written table is the whitespace word count of its texts."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from datasets import Dataset

from fairforget.data.debias import SOURCE_COLUMNS, source_records, source_words
from fairforget.data.texttable import write_text_table

GENERAL = {"id": ["g0", "g1", "g2", "g3", "g4"], "text": ["a b", "c", "d e f", "g", "h i"]}
PLANTED = [{"id": "p0", "text": "she is a nurse"}, {"id": "p1", "text": "he is an engineer"}]


@pytest.mark.parametrize("block", [2, 2000])
def test_source_records_are_the_seeded_shuffle_of_general_then_planted(block: int) -> None:
    got = list(source_records(Dataset.from_dict(GENERAL), PLANTED, seed=7, block=block))
    concatenated = [
        *({"id": i, "text": t, "origin": "general"} for i, t in zip(GENERAL["id"], GENERAL["text"])),
        *({**record, "origin": "planted"} for record in PLANTED),
    ]
    random.Random("7:debias-order").shuffle(concatenated)
    assert got == concatenated
    assert sorted(r["id"] for r in got) == ["g0", "g1", "g2", "g3", "g4", "p0", "p1"]


def test_another_seed_gives_another_order_of_the_same_records() -> None:
    one = [r["id"] for r in source_records(Dataset.from_dict(GENERAL), PLANTED, seed=1)]
    two = [r["id"] for r in source_records(Dataset.from_dict(GENERAL), PLANTED, seed=2)]
    assert one != two and sorted(one) == sorted(two)


def test_source_words_counts_whitespace_words(tmp_path: Path) -> None:
    path = tmp_path / "source.arrow"
    records = source_records(Dataset.from_dict(GENERAL), PLANTED, seed=0)
    write_text_table(path, records, SOURCE_COLUMNS)
    # 2 + 1 + 3 + 1 + 2 general words, 4 + 4 planted
    assert source_words(path) == 17
