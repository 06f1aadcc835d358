"""`replay`: "more data" - mix general text (ctx.general_texts: `data.general.replay_corpus`, by default the
pretraining text) into the objective's data.

`ratio` = number of general-text examples added per objective example (0.5 adds half as many; the general
share of the final data is ratio / (1 + ratio)). Texts are drawn without replacement in an order fixed by
ctx.seed; when more are needed than exist, a fresh seeded permutation is appended (so every text is used
before any repeats). The objective trains on them with its plain LM loss ({"type": "text"} examples).

The mixed examples are computed on demand (`ReplayExamples`): the objective's examples, then the drawn texts,
read from the general corpus (memory-mapped) when asked for; memory holds 8 bytes per drawn text, never the
general corpus.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from fairforget.errors import TrainingError
from fairforget.training.examples import (
    LazyExamples,
    digest,
    example_types,
    fingerprint_of,
    seeded_permutation,
    texts_at,
)
from fairforget.training.plugins import REMEDIES, Param, Remedy, TrainingContext


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def replay_order(n_general: int, n: int, seed: int) -> np.ndarray:
    """Positions of the `n` texts drawn from `n_general` general texts (seeded permutations, concatenated)."""
    rng = random.Random(seed)
    parts: list[np.ndarray] = []
    chosen = 0
    while chosen < n:
        parts.append(seeded_permutation(n_general, None, rng)[: n - chosen])
        chosen += len(parts[-1])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


class ReplayExamples(LazyExamples):
    """The objective's `examples`, then `{"type": "text", "text": t, "replay": True}` for the drawn general texts."""

    def __init__(self, examples: Sequence[dict[str, Any]], general_texts: Sequence[str], n: int, seed: int) -> None:
        self.examples, self.general_texts, self.seed = examples, general_texts, seed
        self.order = replay_order(len(general_texts), n, seed)
        self.types = frozenset(example_types(examples) | {"text"})

    def __len__(self) -> int:
        return len(self.examples) + len(self.order)

    def examples_at(self, indices: np.ndarray) -> list[dict[str, Any]]:
        indices = np.asarray(indices, dtype=np.int64)
        n_base = len(self.examples)
        base = indices[indices < n_base]
        bulk = getattr(self.examples, "examples_at", None)
        base_examples = iter(bulk(base) if callable(bulk) else [self.examples[int(i)] for i in base])
        replayed = iter(texts_at(self.general_texts, self.order[indices[indices >= n_base] - n_base]))
        return [
            next(base_examples) if i < n_base else {"type": "text", "text": next(replayed), "replay": True}
            for i in indices.tolist()
        ]

    def inputs(self) -> tuple[Any, ...]:
        return (self.examples, self.general_texts)

    def fingerprint(self) -> str:
        return digest("replay", fingerprint_of(self.examples), fingerprint_of(self.general_texts), self.order)


@REMEDIES.register("replay")
class Replay(Remedy):
    name = "replay"
    param_spec = {"ratio": Param(0.5, _positive, "a number > 0 (general examples per objective example)")}

    def transform_examples(self, examples: Sequence[dict[str, Any]], ctx: TrainingContext) -> ReplayExamples:
        if not len(ctx.general_texts):
            raise TrainingError(f"remedy {self.config_key}: no general text to replay (ctx.general_texts is empty)")
        n = round(float(self.params["ratio"]) * len(examples))
        return ReplayExamples(examples, ctx.general_texts, n, ctx.seed)
