"""The leakage card (fairforget.data.leakage_card): every overlap reported, the build failing only on a forbidden
one, the debiasing corpus streamed block by block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairforget.data.leakage_card import write_leakage_card
from fairforget.data.occupations import split_occupations
from fairforget.data.texttable import write_text_table
from fairforget.errors import DataError
from leakage_helpers import OCCUPATIONS, evaluation_index


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
    card = write_leakage_card(*args, evaluation_index(), split, tmp_path / "card.json", tmp_path / "card.md")
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
        write_leakage_card(*args, evaluation_index(), split, tmp_path / "card.json", tmp_path / "card.md")
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
