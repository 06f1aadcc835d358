"""Probe files (fairforget.data.probes): CrowS-Pairs rows as pair records, WinoBias lines parsed into text and
pronouns. (Malformed shipped files: tests/faults/test_bad_input.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget.data.probes import load_crows_pairs, parse_winobias_line
from fairforget.errors import DataError

CROWS = (
    ",sent_more,sent_less,stereo_antistereo,bias_type\n"
    "0,She cooked dinner.,He cooked dinner.,stereo,gender\n"
    '1,"The poor man,\nwho stole",The rich man,antistereo,socioeconomic\n'
    "2,He is strong.,She is strong.,antistereo,gender\n"
)


def test_crows_rows_of_the_chosen_bias_types_become_pairs(tmp_path: Path) -> None:
    path = tmp_path / "crows.csv"
    path.write_text(CROWS, encoding="utf-8")
    records = load_crows_pairs(path, ["gender"])
    assert [(r["id"], r["stereo"], r["anti"], r["direction"]) for r in records] == [
        ("crows-0", "She cooked dinner.", "He cooked dinner.", "stereo"),
        ("crows-2", "He is strong.", "She is strong.", "antistereo"),
    ]
    (socio,) = load_crows_pairs(path, ["socioeconomic"])  # a quoted field spanning two lines: joined, no break
    assert (socio["id"], socio["stereo"]) == ("crows-1", "The poor man,who stole")
    with pytest.raises(DataError, match=r"crows.csv: no rows with bias_type in \['race'\]"):
        load_crows_pairs(path, ["race"])


def test_a_crows_pair_of_identical_sentences_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "crows.csv"
    path.write_text(",sent_more,sent_less,stereo_antistereo,bias_type\n7,Same.,Same.,stereo,gender\n")
    with pytest.raises(DataError, match=r"crows.csv:2: row 7: sent_more and sent_less are identical"):
        load_crows_pairs(path, ["gender"])


def test_a_winobias_line_gives_its_number_text_and_pronouns() -> None:
    line = parse_winobias_line("12 [The chief] hired the assistant because [he] needed [his] help.", "w.txt", 3)
    assert line.number == 12 and line.text == "The chief hired the assistant because he needed his help."
    assert line.pronouns == ("he", "his") and line.template.count("\x00") == 2
    with pytest.raises(DataError, match=r"w.txt:4: no \[bracketed\] gendered pronoun"):
        parse_winobias_line("5 [The chief] left.", "w.txt", 4)
    with pytest.raises(DataError, match=r"w.txt:5: expected '<number> <sentence>'"):
        parse_winobias_line("The chief left.", "w.txt", 5)
