"""The order in which a training run sees its examples: one endless stream of seeded permutations.

Epoch e is `randperm(n, generator seeded with (seed, e))`, and each micro-batch takes the next `batch_size`
examples of the stream; so the data position is a single integer and a resumed run sees exactly the same
batches. With `group_by_length` (off by default) the stream is cut into windows of up to `GROUP_BATCHES`
micro-batches; each window is sorted by example length (longest first, ties in stream order) and cut into
micro-batches, whose order is then shuffled with a generator seeded by (seed, window): batches hold examples of
similar length (less padding: faster on CPU and GPU), and the order is still a pure function of the seed and the
lengths, so reruns and resumes stay exact (as transformers' LengthGroupedSampler, but position-addressable).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from fairforget.errors import TrainingError
from fairforget.training import lm

GROUP_BATCHES = 50  # micro-batches per length-sorted window (transformers' LengthGroupedSampler uses 50 too)


class ExampleOrder:
    """The example stream of a run (see the module docstring): `take(start, count)` gives the example indices
    at stream positions [start, start + count). Caches the current epoch's permutation (and length window),
    so a step costs O(batch) rather than a fresh O(n) permutation."""

    def __init__(self, n: int, seed: int, batch_size: int = 1, lengths: Sequence[int] | None = None) -> None:
        if n < 1:
            raise TrainingError("the example stream needs at least one example")
        if lengths is not None and len(lengths) != n:
            raise TrainingError(f"group_by_length: {len(lengths)} lengths for {n} examples")
        self.n, self.seed, self.batch_size = n, seed, batch_size
        self.lengths = None if lengths is None else [int(x) for x in lengths]
        # windows of whole micro-batches, small enough (n / 4) that a window rarely meets an example twice
        self.window = batch_size * max(1, min(GROUP_BATCHES, n // (4 * batch_size)))
        self._epoch, self._permutation = -1, np.zeros(0, dtype=np.int64)
        self._window_index, self._window_order = -1, list[int]()

    def _epoch_order(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            # a numpy array (8 bytes an example), not a list of Python ints: millions of packed blocks at paper scale
            self._epoch, self._permutation = epoch, torch.randperm(self.n, generator=generator).numpy()
        return self._permutation

    def _plain(self, start: int, count: int) -> list[int]:
        indices: list[int] = []
        position = start
        while len(indices) < count:
            epoch, offset = divmod(position, self.n)
            take = min(count - len(indices), self.n - offset)
            indices.extend(self._epoch_order(epoch)[offset : offset + take].tolist())
            position += take
        return indices

    def _grouped_window(self, window: int) -> list[int]:
        assert self.lengths is not None
        lengths = self.lengths
        indices = sorted(self._plain(window * self.window, self.window), key=lambda i: -lengths[i])  # stable
        batches = [indices[k : k + self.batch_size] for k in range(0, len(indices), self.batch_size)]
        # its own seed stream (the epoch permutations use seed * 1_000_003 + epoch)
        digest = hashlib.sha256(f"group_by_length:{self.seed}:{window}".encode()).digest()
        generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
        return [i for b in torch.randperm(len(batches), generator=generator).tolist() for i in batches[b]]

    def take(self, start: int, count: int) -> list[int]:
        if self.lengths is None:
            return self._plain(start, count)
        indices: list[int] = []
        position = start
        while len(indices) < count:
            window, offset = divmod(position, self.window)
            if window != self._window_index:
                self._window_index, self._window_order = window, self._grouped_window(window)
            take = min(count - len(indices), self.window - offset)
            indices.extend(self._window_order[offset : offset + take])
            position += take
        return indices


def example_stream_indices(n: int, seed: int, start: int, count: int) -> list[int]:
    """`count` indices from position `start` of the stream of per-epoch seeded permutations of range(n)."""
    return ExampleOrder(n, seed).take(start, count)


def character_lengths(examples: Sequence[Mapping[str, Any]]) -> list[int]:
    """A length per example when no token lengths are given: the characters of its text fields."""
    return [sum(len(e[f]) for f in lm.TEXT_FIELDS if isinstance(e.get(f), str)) for e in examples]
