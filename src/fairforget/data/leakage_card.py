"""The leakage card: what the written training-side data shares with the evaluation sets.

Re-checks the files the data stage wrote (it does not trust the stage's own filtering) and reports, for every
training set x evaluation set, the training texts equal to an evaluation sentence and those sharing a word
8-gram with one, with examples; and which WinoBias occupations the training side uses. `violations` lists
what the rule of docs/metrics.md ("Training/evaluation separation") forbids: any sentence identity, any
8-gram shared with a bias-bearing evaluation sentence, any occupation both trained on and in the WinoBias
evaluation pairs. Overlap with the non-bias-bearing sets is reported only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fairforget.data.leakage import EvaluationIndex, ngrams, sentence_key, training_texts
from fairforget.data.occupations import OccupationSplit
from fairforget.data.texttable import BLOCK_ROWS, TextTable
from fairforget.errors import DataError
from fairforget.io import atomic_write_text, iter_jsonl, write_json

MAX_EXAMPLES = 3


class TableTexts(Collection[str]):
    """One column of a text table, read `BLOCK_ROWS` rows at a time on every pass (the card passes over each
    training set once per evaluation set): the debiasing corpus may be far larger than memory (issue 15)."""

    def __init__(self, table: TextTable, column: str = "text") -> None:
        self.table, self.column = table, column

    def __len__(self) -> int:
        return len(self.table)

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self.table), BLOCK_ROWS):
            yield from self.table.texts(np.arange(start, min(start + BLOCK_ROWS, len(self.table))), self.column)

    def __contains__(self, text: object) -> bool:
        return any(t == text for t in self)


def _overlaps(texts: Collection[str], index: EvaluationIndex) -> dict[str, dict[str, Any]]:
    by_set: dict[str, dict[str, Any]] = {}
    for es in index.sets:
        keys = {sentence_key(s) for s in es.sentences} - {""}
        sentence_of: dict[tuple[str, ...], str] = {}
        for sentence in es.sentences:
            for gram in ngrams(sentence, index.n):
                sentence_of.setdefault(gram, sentence)
        identical = [t for t in texts if sentence_key(t) in keys]
        shared_grams: set[tuple[str, ...]] = set()
        texts_with_gram = 0
        examples: list[dict[str, str]] = []
        for text in texts:
            hits = ngrams(text, index.n) & sentence_of.keys()
            if hits:
                texts_with_gram += 1
                shared_grams |= hits
                if len(examples) < MAX_EXAMPLES:
                    gram = min(hits)
                    examples.append({"ngram": " ".join(gram), "training": text[:300], "evaluation": sentence_of[gram]})
        by_set[es.name] = {
            "bias_bearing": es.bias_bearing,
            "identical_texts": len(identical),
            "identical_examples": identical[:MAX_EXAMPLES],
            "ngram_texts": texts_with_gram,
            "ngram_distinct": len(shared_grams),
            "ngram_examples": examples,
        }
    return by_set


def build_leakage_card(
    training: Mapping[str, Collection[str]],
    index: EvaluationIndex,
    split: OccupationSplit,
    occupations_trained: Mapping[str, set[str]],
    winobias_evaluated: set[str],
) -> dict[str, Any]:
    """The card as a dict (see the module docstring).

    `training`: name -> its texts; `occupations_trained`: name -> the WinoBias occupations a training set uses;
    `winobias_evaluated`: the occupations named by the WinoBias pairs that are evaluated.
    """
    overlap = {name: _overlaps(texts, index) for name, texts in training.items()}
    violations = []
    for name, by_set in overlap.items():
        for set_name, found in by_set.items():
            if found["identical_texts"]:
                violations.append(
                    f"{name}: {found['identical_texts']} text(s) equal a {set_name} sentence, e.g. "
                    f"{found['identical_examples'][0]!r}"
                )
            if found["bias_bearing"] and found["ngram_texts"]:
                example = found["ngram_examples"][0]
                violations.append(
                    f"{name}: {found['ngram_texts']} text(s) share a word {index.n}-gram with a "
                    f"{set_name} sentence, e.g. {example['ngram']!r} in {example['evaluation']!r}"
                )
    shared = {name: sorted(used & winobias_evaluated) for name, used in occupations_trained.items()}
    violations += [
        f"{name}: trains on occupation(s) {names} that the WinoBias evaluation pairs name"
        for name, names in shared.items()
        if names
    ]
    return {
        "rule": (
            "fail on: a training text equal to any evaluation sentence (as sequences of lower-cased \\w+ "
            f"words); a training text sharing a word {index.n}-gram (lower-cased \\w+ tokens) with a "
            "bias-bearing evaluation sentence; an occupation used for training that the WinoBias "
            "evaluation pairs name. Overlap with sets that are not bias-bearing is reported only. "
            "See docs/metrics.md, Training/evaluation separation."
        ),
        "ngram_size": index.n,
        "occupation_split": split.record(),
        "training_sets": {name: {"n_texts": len(texts)} for name, texts in training.items()},
        "evaluation_sets": {
            es.name: {"n_sentences": len(es.sentences), "bias_bearing": es.bias_bearing} for es in index.sets
        },
        "overlap": overlap,
        "occupations": {
            "winobias_evaluated": sorted(winobias_evaluated),
            "trained": {name: sorted(used) for name, used in occupations_trained.items()},
            "shared_with_winobias_evaluated": shared,
        },
        "violations": violations,
        "passed": not violations,
    }


def card_markdown(card: Mapping[str, Any]) -> str:
    """A short human-readable version of the card."""
    sets = list(card["evaluation_sets"])
    lines = ["# Leakage card", "", card["rule"], "", f"Verdict: **{'passed' if card['passed'] else 'FAILED'}**", ""]
    split = card["occupation_split"]
    lines += [
        f"Occupation split (seed {split['seed']}, evaluation fraction {split['evaluation_fraction']}): "
        f"training side {', '.join(split['training'])}; evaluation side {', '.join(split['evaluation'])}.",
        "",
        f"WinoBias occupations evaluated: {', '.join(card['occupations']['winobias_evaluated'])}.",
        "",
        f"Training texts equal to an evaluation sentence / sharing a word {card['ngram_size']}-gram with "
        "one (* = bias-bearing set: overlap fails the card):",
        "",
        "| training set | texts | "
        + " | ".join(f"{s}{'*' if card['evaluation_sets'][s]['bias_bearing'] else ''}" for s in sets)
        + " |",
        "|---|---|" + "---|" * len(sets),
    ]
    for name, by_set in card["overlap"].items():
        cells = [f"{by_set[s]['identical_texts']} / {by_set[s]['ngram_texts']}" for s in sets]
        lines.append(f"| {name} | {card['training_sets'][name]['n_texts']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Evaluation sets: "
        + ", ".join(f"{s} ({v['n_sentences']} sentences)" for s, v in card["evaluation_sets"].items())
        + ".",
    ]
    if card["violations"]:
        lines += ["", "Violations:", ""] + [f"- {v}" for v in card["violations"]]
    return "\n".join(lines) + "\n"


def _texts(records: Iterable[dict[str, Any]]) -> list[str]:
    return [t for r in records for t in training_texts(r)]


def write_leakage_card(
    pretrain_jsonl: str | Path,
    planted_jsonl: str | Path,
    source: str | Path,
    pairs_jsonl: str | Path,
    winobias_jsonl: str | Path,
    index: EvaluationIndex,
    split: OccupationSplit,
    json_out: str | Path,
    md_out: str | Path,
) -> dict[str, Any]:
    """Check the written data files, write the card (JSON and Markdown) and raise DataError on a violation.

    Training side: general pretraining text, planted corpus, debiasing corpus, debiasing pairs (templates +
    WinoBias dev). `winobias_jsonl`: the evaluated WinoBias pairs (R/data/probes/winobias.jsonl).
    """
    # the debiasing corpus is streamed from its table, never held whole (memory flat as the corpus grows)
    corpus = TextTable(source, required=("text", "origin"))
    training: dict[str, Collection[str]] = {
        "general_pretrain": _texts(iter_jsonl(pretrain_jsonl, required=("text",))),
        "planted_corpus": _texts(iter_jsonl(planted_jsonl, required=("text",))),
        "debias_corpus": TableTexts(corpus),
        "debias_pairs": _texts(iter_jsonl(pairs_jsonl, required=("stereo", "anti"))),
    }
    # WikiText names occupations as ordinary words; only the texts built around an occupation are checked
    occupations_trained = {
        name: {o for t in training[name] for o in split.mentions(t)} for name in ("planted_corpus", "debias_pairs")
    }
    occupations_trained["debias_corpus"] = {
        o
        for origin, text in zip(TableTexts(corpus, "origin"), TableTexts(corpus), strict=True)
        if origin == "planted"
        for o in split.mentions(text)
    }
    winobias_evaluated = {
        o
        for r in iter_jsonl(winobias_jsonl, required=("stereo", "anti"))
        for t in (r["stereo"], r["anti"])
        for o in split.mentions(t)
    }
    card = build_leakage_card(training, index, split, occupations_trained, winobias_evaluated)
    write_json(json_out, card)
    atomic_write_text(md_out, card_markdown(card))
    if not card["passed"]:
        raise DataError(
            f"{json_out}: training data overlaps the evaluation data:\n- " + "\n- ".join(card["violations"])
        )
    return card
