"""WinoBias occupations (fairforget.data.occupations): read from the two lists, split as configured, errors
naming the file, line or key. (The split's stratification and seeding: tests/unit/data/test_leakage.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget.data.occupations import load_occupation_split, load_occupations
from fairforget.errors import ConfigError, DataError
from fairforget.hashing import sha256_file


def lists(tmp_path: Path, male: str, female: str) -> tuple[Path, Path]:
    (tmp_path / "male.txt").write_text(male, encoding="utf-8")
    (tmp_path / "female.txt").write_text(female, encoding="utf-8")
    return tmp_path / "male.txt", tmp_path / "female.txt"


def test_occupations_map_to_their_lists_gender(tmp_path: Path) -> None:
    male, female = lists(tmp_path, "driver\n\n chief \n", "nurse\nclerk\n")
    assert load_occupations(male, female) == {"driver": "male", "chief": "male", "nurse": "female", "clerk": "female"}


def test_a_repeated_or_missing_gender_names_the_file(tmp_path: Path) -> None:
    male, female = lists(tmp_path, "driver\n", "nurse\ndriver\n")
    with pytest.raises(DataError, match=r"female.txt:2: occupation 'driver' is listed twice"):
        load_occupations(male, female)
    male, female = lists(tmp_path, "driver\n", "\n")
    with pytest.raises(DataError, match="file is empty"):
        load_occupations(male, female)


def test_the_configured_split_records_its_sources(tmp_path: Path) -> None:
    male, female = lists(tmp_path, "driver\nchief\n", "nurse\nclerk\n")
    split = load_occupation_split(male, female, {"seed": 2})
    assert split.evaluation_fraction == 0.5 and split.seed == 2  # the default fraction: one of two per gender
    assert sorted(split.evaluation.values()) == ["female", "male"]
    assert split.source_sha256 == {"male.txt": sha256_file(male), "female.txt": sha256_file(female)}
    with pytest.raises(ConfigError, match=r"config key 'data.occupation_split': unknown setting\(s\) \['fraction'\]"):
        load_occupation_split(male, female, {"fraction": 0.5})
