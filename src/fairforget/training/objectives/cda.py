"""`cda`: counterfactual data augmentation (Zmigrod et al. 2019; Webster et al. 2020; bias-bench recipe).

The debiasing texts are gender-swapped with `fairforget.data.cda` (whole-word, case-preserving swaps over
ctx.word_pairs). `sided: two` trains on each gendered original AND its swap; `sided: one` replaces each
gendered original by its swap. Texts with no gendered word stay as plain LM data in both variants. The loss is
the plain LM loss (MLM or next-token) on the resulting texts.

The examples are `fairforget.data.cda.augment`'s records in its order, computed on demand (`CdaExamples`): a
corpus of any size costs 9 bytes per text in memory (a gendered flag and an example offset), not a dict per
example.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from fairforget.data.cda import WordPairs, as_word_pairs, augmented_records, check_sided, gendered_batch
from fairforget.training.examples import CHUNK, LazyExamples, digest, fingerprint_of, release_pages, texts_at
from fairforget.training.objectives._text import TextObjective
from fairforget.training.plugins import OBJECTIVES, Param, TrainingContext

SIDES = ("two", "one")


class CdaExamples(LazyExamples):
    """`augment(texts, pairs, sided)` as example dicts {type, text, id, counterfactual}, item i computed when read.

    Two-sided CDA gives a gendered text two examples (original, swap) and any other text one, so the position of a
    text's examples needs every text's flag: one pass of the gendered-word test over the texts, at construction."""

    def __init__(self, texts: Sequence[str], pairs: WordPairs, sided: str) -> None:
        check_sided(sided)
        self.texts, self.pairs, self.sided = texts, as_word_pairs(pairs), sided
        self.ends: np.ndarray | None = None  # per text, one past its last example (two-sided only)
        if sided == "two":
            counts = np.ones(len(texts), dtype=np.int64)
            for start in range(0, len(texts), CHUNK):
                release_pages(texts)
                chunk = texts_at(texts, np.arange(start, min(start + CHUNK, len(texts))))
                counts[start : start + len(chunk)] += np.asarray(gendered_batch(chunk, self.pairs), dtype=np.int64)
            self.ends = np.cumsum(counts)

    def __len__(self) -> int:
        return len(self.texts) if self.ends is None else int(self.ends[-1]) if len(self.ends) else 0

    def examples_at(self, indices: np.ndarray) -> list[dict[str, Any]]:
        indices = np.asarray(indices, dtype=np.int64)
        if self.ends is None:
            sources, offsets = indices, np.zeros(len(indices), dtype=np.int64)
        else:
            sources = np.searchsorted(self.ends, indices, side="right")
            offsets = indices - np.where(sources > 0, self.ends[np.maximum(sources - 1, 0)], 0)
        texts = texts_at(self.texts, sources)
        out = []
        for source, offset, text in zip(sources.tolist(), offsets.tolist(), texts, strict=True):
            record = augmented_records(f"text-{source:06d}", text, self.pairs, self.sided, True)[offset]
            out.append(
                {"type": "text", "text": record["text"], "id": record["id"], "counterfactual": record["counterfactual"]}
            )
        return out

    def inputs(self) -> tuple[Any, ...]:
        return (self.texts,)

    def fingerprint(self) -> str:
        return digest("cda", self.sided, self.pairs, fingerprint_of(self.texts))


@OBJECTIVES.register("cda")
class CounterfactualAugmentation(TextObjective):
    name = "cda"
    param_spec: ClassVar[dict[str, Param] | None] = {"sided": Param("two", lambda v: v in SIDES, "'two' or 'one'")}

    def build_examples(self, ctx: TrainingContext) -> CdaExamples:
        return CdaExamples(ctx.debias_texts, tuple(ctx.word_pairs), self.params["sided"])
