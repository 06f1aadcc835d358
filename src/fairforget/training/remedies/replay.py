"""`replay`: "more data" - mix general text (ctx.general_texts, the pretraining text) into the objective's data.

`ratio` = number of general-text examples added per objective example (0.5 adds half as many; the general
share of the final data is ratio / (1 + ratio)). Texts are drawn without replacement in an order fixed by
ctx.seed; when more are needed than exist, a fresh seeded permutation is appended (so every text is used
before any repeats). The objective trains on them with its plain LM loss ({"type": "text"} examples).
"""

from __future__ import annotations

import math
import random
from typing import Any

from fairforget.errors import TrainingError
from fairforget.training.plugins import REMEDIES, Param, Remedy, TrainingContext


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def replay_texts(general_texts: list[str], n: int, seed: int) -> list[str]:
    """`n` texts drawn from `general_texts` (seeded permutations, concatenated as needed)."""
    rng = random.Random(seed)
    chosen: list[str] = []
    while len(chosen) < n:
        order = list(range(len(general_texts)))
        rng.shuffle(order)
        chosen.extend(general_texts[i] for i in order[: n - len(chosen)])
    return chosen


@REMEDIES.register("replay")
class Replay(Remedy):
    name = "replay"
    param_spec = {"ratio": Param(0.5, _positive, "a number > 0 (general examples per objective example)")}

    def transform_examples(self, examples: list[dict[str, Any]], ctx: TrainingContext) -> list[dict[str, Any]]:
        if not ctx.general_texts:
            raise TrainingError(f"remedy {self.config_key}: no general text to replay (ctx.general_texts is empty)")
        n = round(float(self.params["ratio"]) * len(examples))
        texts = replay_texts(list(ctx.general_texts), n, ctx.seed)
        return list(examples) + [{"type": "text", "text": text, "replay": True} for text in texts]
