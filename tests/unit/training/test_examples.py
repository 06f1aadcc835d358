"""Bounded-memory training data (fairforget.training.examples, data.texttable, packing to files): the lazy
sequences equal the list-based code they replace, item by item and in order, and packed blocks written under a
state dir are reused only when complete."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from fairforget.data.cda import augment
from fairforget.data.texttable import TextTable, read_text_records, write_text_table
from fairforget.errors import DataError
from fairforget.training.examples import TextColumn, seeded_permutation
from fairforget.training.finetune import subset_indices, subset_texts
from fairforget.training.objectives.cda import CdaExamples
from fairforget.training.packing import pack_texts
from fairforget.training.remedies.replay import ReplayExamples
from objectives_helpers import WORD_PAIRS, bert_tokenizer

TEXTS = [
    "he is a nurse",
    "the house is very good",
    "She asked HIM twice",
    "a river and a house",
    "his father asked the engineer",
    "the king's daughter became queen",
    "the book was good yesterday",
]


def _table(tmp_path: Path, texts: list[str], name: str = "source.arrow") -> Path:
    path = tmp_path / name
    records = ({"id": f"r{i}", "text": t, "origin": "general"} for i, t in enumerate(texts))
    assert write_text_table(path, records, ("id", "text", "origin"), block=3) == len(texts)
    return path


def test_text_table_round_trip_is_deterministic_and_checked(tmp_path: Path) -> None:
    path = _table(tmp_path, TEXTS)
    again = _table(tmp_path, TEXTS, "again.arrow")
    assert path.read_bytes() == again.read_bytes()  # the same rows, the same bytes (Snakemake, data-file hashes)
    table = TextTable(path)
    assert len(table) == len(TEXTS) and table.texts() == TEXTS
    assert table.texts([5, 0, 5]) == [TEXTS[5], TEXTS[0], TEXTS[5]]
    assert [r["id"] for r in read_text_records(path)] == [f"r{i}" for i in range(len(TEXTS))]
    table.release_pages()
    assert table.texts([6]) == [TEXTS[6]]  # pages dropped from the process are read again
    with pytest.raises(DataError, match="no column"):
        TextTable(path, required=("stereo",))
    (tmp_path / "bad.arrow").write_text('{"text": "x"}\n')
    with pytest.raises(DataError, match="bad.arrow: not an Arrow IPC file"):
        TextTable(tmp_path / "bad.arrow")


def test_subset_as_index_array_equals_the_list_shuffle(tmp_path: Path) -> None:
    for n, seed in ((7, 0), (50, 3), (1, 9)):
        order = list(range(n))
        random.Random(seed).shuffle(order)
        assert seeded_permutation(n, seed).tolist() == order
    column = TextColumn(_table(tmp_path, TEXTS), subset_indices(len(TEXTS), 4, 2))
    assert list(column) == subset_texts(TEXTS, 4, 2) and len(column) == 4
    assert column[-1] == column[3] and column[1:3] == list(column)[1:3]
    with pytest.raises(IndexError):
        column[4]


def test_a_subset_reads_the_columns_open_table_at_its_positions(tmp_path: Path) -> None:
    path = _table(tmp_path, TEXTS)
    column, index = TextColumn(path), subset_indices(len(TEXTS), 4, 2)
    subset = column.subset(index)
    assert subset.table is column.table  # the file is not opened again
    assert list(subset) == list(TextColumn(path, index)) == [TEXTS[i] for i in index]
    assert subset.fingerprint() == TextColumn(path, index).fingerprint()
    assert list(subset.subset(np.array([3, 0]))) == [TEXTS[index[3]], TEXTS[index[0]]]  # positions of the subset
    assert len(column) == len(TEXTS)  # the column itself is unchanged


@pytest.mark.parametrize("sided", ["two", "one"])
def test_lazy_cda_examples_equal_augment_at_every_position(tmp_path: Path, sided: str) -> None:
    column = TextColumn(_table(tmp_path, TEXTS), subset_indices(len(TEXTS), "full", 1))
    lazy = CdaExamples(column, tuple(WORD_PAIRS), sided)
    expected = [
        {"type": "text", "text": r["text"], "id": r["id"], "counterfactual": r["counterfactual"]}
        for r in augment(list(column), WORD_PAIRS, sided=sided)
    ]
    assert len(lazy) == len(expected) and lazy == expected
    assert [lazy[k] for k in reversed(range(len(lazy)))] == expected[::-1]  # random access, not just iteration
    assert lazy.examples_at(np.array([3, 0, 3])) == [expected[3], expected[0], expected[3]]
    # the fingerprint follows the texts and the side, not the object
    assert lazy.fingerprint() == CdaExamples(column, tuple(WORD_PAIRS), sided).fingerprint()
    other = "one" if sided == "two" else "two"
    assert lazy.fingerprint() != CdaExamples(column, tuple(WORD_PAIRS), other).fingerprint()


def _former_replay(examples: list[dict], general: list[str], ratio: float, seed: int) -> list[dict]:
    """The list-based replay of before: seeded permutations of the general texts, concatenated."""
    n = round(ratio * len(examples))
    rng = random.Random(seed)
    chosen: list[str] = []
    while len(chosen) < n:
        order = list(range(len(general)))
        rng.shuffle(order)
        chosen.extend(general[i] for i in order[: n - len(chosen)])
    return list(examples) + [{"type": "text", "text": t, "replay": True} for t in chosen]


@pytest.mark.parametrize("ratio", [0.5, 3.0])
def test_lazy_replay_equals_the_former_list(tmp_path: Path, ratio: float) -> None:
    general = TextColumn(_table(tmp_path, TEXTS, "replay.arrow"))
    base = CdaExamples(TEXTS[:4], tuple(WORD_PAIRS), "two")
    lazy = ReplayExamples(base, general, round(ratio * len(base)), seed=5)
    assert lazy == _former_replay(list(base), TEXTS, ratio, 5)
    assert lazy.types == {"text"} and lazy[len(base)]["replay"] is True


def test_packed_blocks_in_a_folder_are_reused_only_when_complete(tmp_path: Path) -> None:
    tokenizer = bert_tokenizer()
    texts = TEXTS * 3
    in_memory = pack_texts(tokenizer, texts, block_size=8, seed=1)  # a temporary folder
    folder = tmp_path / "packed"
    first = pack_texts(tokenizer, TextColumn(_table(tmp_path, texts)), block_size=8, seed=1, folder=folder, name="b")
    assert first.input_ids.tolist() == in_memory.input_ids.tolist() and first.n_blocks == in_memory.n_blocks
    assert first.special.tolist() == in_memory.special.tolist() and first.corpus_tokens == in_memory.corpus_tokens
    assert sorted(p.name for p in folder.iterdir()) == ["b.ids", "b.json", "b.special"]
    # a second attempt maps the finished files (here: changed on purpose, to see they are not rebuilt) ...
    ids = np.memmap(folder / "b.ids", dtype=np.int32, mode="r+")
    ids[0] = 7
    ids.flush()
    assert int(pack_texts(tokenizer, texts, 8, 1, folder=folder, name="b").input_ids[0, 0]) == 7
    # ... and files without their JSON (an attempt stopped while packing) are rebuilt
    (folder / "b.json").unlink()
    rebuilt = pack_texts(tokenizer, texts, 8, 1, folder=folder, name="b")
    assert rebuilt.input_ids.tolist() == in_memory.input_ids.tolist()


def test_unpackable_objectives_compute_their_examples_on_demand_equal_to_the_lists() -> None:
    """counterfactual_consistency and unlikelihood hold no dict per text (a corpus of any size), yet their examples
    are exactly the lists they built before, in order (so checkpoints are unchanged)."""
    from fairforget.data.cda import contains_gendered_word, swap_gender
    from fairforget.training.objectives.counterfactual_consistency import ConsistencyExamples
    from fairforget.training.objectives.unlikelihood import PairsThenTexts

    texts = ["he is a nurse", "the weather is fine", "She met him there", "no one came"]
    word_pairs = (("he", "she"), ("him", "her"))
    consistency = ConsistencyExamples(texts, word_pairs)
    expected = [
        {"type": "counterfactual", "text": t, "swapped": swap_gender(t, word_pairs)}
        if contains_gendered_word(t, word_pairs)
        else {"type": "text", "text": t}
        for t in texts
    ]
    assert consistency == expected and consistency[2]["swapped"] == "He met her there"
    assert consistency.examples_at(np.array([3, 0])) == [expected[3], expected[0]]
    pairs = [("he is a nurse", "she is a nurse"), ("she codes", "he codes")]
    combined = PairsThenTexts(pairs, texts)
    assert combined == [{"type": "pair", "stereo": s, "anti": a} for s, a in pairs] + [
        {"type": "text", "text": t} for t in texts
    ]
    assert combined.examples_at(np.array([5, 1, 2])) == [combined[5], combined[1], combined[2]]
    # the resume key follows the content
    assert combined.fingerprint() == PairsThenTexts(list(pairs), list(texts)).fingerprint()
    assert combined.fingerprint() != PairsThenTexts(pairs[:1], texts).fingerprint()
    assert consistency.fingerprint() != ConsistencyExamples(texts[:3], word_pairs).fingerprint()
