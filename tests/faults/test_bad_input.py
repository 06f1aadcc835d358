"""Bad input files raise DataError naming the file and line (or row)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairforget.data.glue import read_task, task_files
from fairforget.data.occupations import load_occupations
from fairforget.data.probes import load_crows_pairs, load_stereoset_intrasentence, load_winobias_pairs
from fairforget.data.textfiles import read_lines
from fairforget.errors import DataError

CROWS_HEADER = ",sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators\n"


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_non_utf8_byte_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.tsv", b"sentence\tlabel\nfine\t1\nbad \xff byte\t0\n")
    with pytest.raises(DataError, match=r"bad\.tsv:3: not valid UTF-8"):
        read_task("sst2", "train", path)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"empty\.txt: file is empty"):
        read_lines(write(tmp_path / "empty.txt", ""))
    with pytest.raises(DataError, match=r"male\.txt: file is empty"):
        load_occupations(write(tmp_path / "male.txt", "\n\n"), write(tmp_path / "female.txt", "nurse\n"))
    with pytest.raises(DataError, match=r"dev\.tsv: file holds no data rows"):
        read_task("sst2", "dev", write(tmp_path / "dev.tsv", "sentence\tlabel\n"))


def test_glue_malformed_row_and_bad_label(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"train\.tsv:3: expected 2 tab-separated columns, found 3"):
        read_task("sst2", "train", write(tmp_path / "train.tsv", "sentence\tlabel\ngood\t1\nbad\t0\textra\n"))
    with pytest.raises(DataError, match=r"rte\.tsv:2: label 'maybe' is not one of entailment, not_entailment"):
        read_task("rte", "train", write(tmp_path / "rte.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n"))
    with pytest.raises(DataError, match=r"cola\.tsv:1: expected 4 tab-separated columns"):
        read_task("cola", "train", write(tmp_path / "cola.tsv", "src\t1\tsentence without blank column\n"))
    with pytest.raises(DataError, match=r"empty_text\.tsv:2: empty sentence"):
        read_task("sst2", "train", write(tmp_path / "empty_text.tsv", "sentence\tlabel\n  \t1\n"))


def test_glue_missing_header_column(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"wnli\.tsv:1: expected header index\|sentence1\|sentence2\|label"):
        read_task("wnli", "dev", write(tmp_path / "wnli.tsv", "index\tsentence1\tlabel\n0\ta\t1\n"))


def test_stsb_score_out_of_range(tmp_path: Path) -> None:
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
    row = "0\tg\tf\t2012\t1\tnone\tnone\tA man.\tA person.\t{}\n"
    with pytest.raises(DataError, match=r"stsb\.tsv:3: score 5\.5 is outside \[0, 5\]"):
        read_task("stsb", "dev", write(tmp_path / "stsb.tsv", header + row.format("4.0") + row.format("5.5")))
    with pytest.raises(DataError, match=r"stsb2\.tsv:2: score 'high' is not a number"):
        read_task("stsb", "dev", write(tmp_path / "stsb2.tsv", header + row.format("high")))


def test_mrpc_missing_explains_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"MRPC[/\\]train\.tsv.*format_mrpc.*dev_ids\.tsv.*data\.downstream\.mrpc_dir"):
        task_files("mrpc", tmp_path)


def test_mrpc_from_a_user_folder(tmp_path: Path) -> None:
    header = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    for split in ("train", "dev"):
        write(tmp_path / f"{split}.tsv", header + "1\t1\t2\tA cat sat.\tA cat was sitting.\n0\t3\t4\tRain.\tSun.\n")
    files = task_files("mrpc", tmp_path / "unused_glue", mrpc_dir=tmp_path)
    records = read_task("mrpc", "dev", files["dev"])
    assert [r["label"] for r in records] == [1, 0] and records[0]["text_b"] == "A cat was sitting."


def test_crows_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path / "crows.csv", ",sent_more,stereo_antistereo,bias_type\n0,a,stereo,gender\n")
    with pytest.raises(DataError, match=r"crows\.csv:1: missing column\(s\) sent_less"):
        load_crows_pairs(path, ["gender"])


def test_crows_identical_pair_names_the_row(tmp_path: Path) -> None:
    rows = (
        '0,He is strong.,She is strong.,stereo,gender,[],a,[]\n7,"Same, words.","Same, words.",stereo,gender,[],a,[]\n'
    )
    with pytest.raises(DataError, match=r"crows\.csv:3: row 7: sent_more and sent_less are identical"):
        load_crows_pairs(write(tmp_path / "crows.csv", CROWS_HEADER + rows), ["gender"])


def test_crows_malformed_row(tmp_path: Path) -> None:
    rows = "0,He is strong.,She is strong.,stereo,gender\n"
    with pytest.raises(DataError, match=r"crows\.csv:2: expected 8 columns, found 5"):
        load_crows_pairs(write(tmp_path / "crows.csv", CROWS_HEADER + rows), ["gender"])


def test_winobias_pair_differing_beyond_pronoun(tmp_path: Path) -> None:
    pro = write(
        tmp_path / "pro_stereotyped_type1.txt.test",
        "1 [The chief] hired the assistant because [he] needed help.\n"
        "2 [The nurse] met the driver because [she] was kind.\n",
    )
    anti = write(
        tmp_path / "anti_stereotyped_type1.txt.test",
        "1 [The chief] hired the assistant because [she] needed help.\n"
        "2 [The nurse] met the cook because [he] was kind.\n",
    )
    with pytest.raises(DataError, match=r"anti_stereotyped_type1\.txt\.test:2 .*differ outside the pronoun span"):
        load_winobias_pairs(pro, anti, "test", 1)


def test_winobias_identical_and_unaligned(tmp_path: Path) -> None:
    pro = write(tmp_path / "pro.txt", "1 [The chief] left because [he] was ill.\n")
    same = write(tmp_path / "anti.txt", "1 [The chief] left because [he] was ill.\n")
    with pytest.raises(DataError, match=r"anti\.txt:1 .*identical"):
        load_winobias_pairs(pro, same, "test", 1)
    numbered = write(tmp_path / "anti2.txt", "2 [The chief] left because [she] was ill.\n")
    with pytest.raises(DataError, match=r"anti2\.txt:1 .*numbers differ"):
        load_winobias_pairs(pro, numbered, "test", 1)
    bad = write(tmp_path / "anti3.txt", "The chief left because [she] was ill.\n")
    with pytest.raises(DataError, match=r"anti3\.txt:1: expected '<number> <sentence>'"):
        load_winobias_pairs(pro, bad, "test", 1)
    good = write(tmp_path / "anti4.txt", "1 [The chief] left because [she] was ill.\n")
    (record,) = load_winobias_pairs(pro, good, "test", 1)
    assert (record["stereo"], record["anti"]) == (
        "The chief left because he was ill.",
        "The chief left because she was ill.",
    )


def test_stereoset_missing_field_and_bad_json(tmp_path: Path) -> None:
    path = write(tmp_path / "ss.jsonl", '{"type": "intrasentence", "target": "x", "bias_type": "gender"}\n')
    with pytest.raises(DataError, match=r"ss\.jsonl:1: missing field\(s\) context"):
        load_stereoset_intrasentence(path, ["gender"])
    with pytest.raises(DataError, match=r"ss2\.jsonl:2: malformed JSON"):
        load_stereoset_intrasentence(write(tmp_path / "ss2.jsonl", "\n{not json\n"), ["gender"])
