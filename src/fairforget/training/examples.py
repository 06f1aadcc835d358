"""Training texts and examples that are computed on demand, so a run's data never has to fit in memory.

At paper scale (10% of English Wikipedia filtered for gender words: 10^8-10^9 tokens) a list of the run's texts,
of the objective's example dicts and of every token id would be tens of GB of Python objects. Instead:

- `TextColumn`: the run's texts as a `Sequence[str]` over a memory-mapped text table
  (`fairforget.data.texttable`) and an index array (the run's seeded subset), 8 bytes per text in memory;
- `LazyExamples`: a `Sequence` of example dicts whose item i is computed when asked for (`TextExamples`,
  `fairforget.training.objectives.cda.CdaExamples`, `fairforget.training.remedies.replay.ReplayExamples`); it
  compares equal to the list of the same dicts, so objectives and tests may treat it as that list;
- packing streams the example texts into a file of blocks (`fairforget.training.packing`).

Each sequence has a `fingerprint()`: a digest of what it holds computed from its inputs (file hashes, index
arrays, parameters) without building every item, which the engine's resumable state is keyed by
(`examples_fingerprint`).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from fairforget.hashing import canonical_json_hash, sha256_file

#: texts fetched per call when a sequence is read in bulk (`texts_at`)
CHUNK = 2048


def fingerprint_of(value: Any) -> str:
    """A sequence's own `fingerprint()`, or the canonical JSON hash of its items (lists: small studies, tests)."""
    own = getattr(value, "fingerprint", None)
    if callable(own):
        return str(own())
    return canonical_json_hash(list(value))


def digest(*parts: Any) -> str:
    """sha256 of parts (str, bytes, numpy arrays), each length-prefixed so that boundaries count."""
    h = hashlib.sha256()
    for part in parts:
        data = (
            part.tobytes() if isinstance(part, np.ndarray) else part if isinstance(part, bytes) else str(part).encode()
        )
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def release_pages(sequence: Any) -> None:
    """Drop the memory-mapped pages `sequence` (and what it reads from) has read: they stay in the page cache but
    leave this process's RSS (`TextTable.release_pages`). Called before each chunk of a pass over a corpus, so
    that nothing a sequence maps while reading accumulates (a `TextTable` reads rows with `pread`, so it maps
    little; a plug-in's own sequence may map more)."""
    release = getattr(sequence, "release_pages", None)
    if callable(release):
        release()


def texts_at(texts: Sequence[str], indices: np.ndarray | Sequence[int]) -> list[str]:
    """`[texts[i] for i in indices]`, in one bulk read where the sequence offers one (`TextColumn`, lazy examples)."""
    bulk = getattr(texts, "texts_at", None)
    if callable(bulk):
        return list(bulk(indices))
    return [texts[int(i)] for i in indices]


class TextSequence(Sequence[str]):
    """A sequence of texts read in bulk: subclasses give `__len__` and `texts_at(indices)`."""

    def __len__(self) -> int:
        raise NotImplementedError

    def texts_at(self, indices: np.ndarray | Sequence[int]) -> list[str]:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return self.texts_at(np.arange(len(self))[i])
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"text {i} of {n}")
        return self.texts_at([i % n])[0]


class TextColumn(TextSequence):
    """Texts `table.texts(index)` of a memory-mapped text table (`fairforget.data.texttable.TextTable`): item i is
    the row `index[i]` (all rows in file order when `index` is None)."""

    def __init__(self, path: str | Path, index: np.ndarray | None = None, column: str = "text") -> None:
        from fairforget.data.texttable import TextTable

        self.path, self.column = Path(path), column
        self.table = TextTable(self.path, required=(column,))
        self.rows = None if index is None else np.ascontiguousarray(index, dtype=np.int64)
        self._file_hash: str | None = None

    def __len__(self) -> int:
        return len(self.table) if self.rows is None else len(self.rows)

    def subset(self, positions: np.ndarray) -> TextColumn:
        """The texts at `positions` of this column, on the same open table (the file is not opened again)."""
        subset = copy.copy(self)
        index = np.asarray(positions, dtype=np.int64)
        subset.rows = np.ascontiguousarray(index if self.rows is None else self.rows[index], dtype=np.int64)
        return subset

    def texts_at(self, indices: np.ndarray | Sequence[int]) -> list[str]:
        positions = np.asarray(indices, dtype=np.int64)
        rows = positions if self.rows is None else self.rows[positions]
        return self.table.texts(rows, self.column)

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), CHUNK):
            yield from self.texts_at(np.arange(start, min(start + CHUNK, len(self))))

    def release_pages(self) -> None:
        self.table.release_pages()

    def fingerprint(self) -> str:
        if self._file_hash is None:
            self._file_hash = sha256_file(self.path)
        return digest("TextColumn", self._file_hash, self.column, "all" if self.rows is None else self.rows)


class LazyExamples(Sequence[dict[str, Any]]):
    """Example dicts computed on demand. Subclasses give `__len__`, `examples_at(indices)` (the dicts of those
    positions, in order), `types` (the example types it may hold, so the engine need not scan it) and
    `fingerprint()`. Equal to any sequence of the same dicts; slicing returns a list."""

    types: frozenset[str] = frozenset({"text"})

    def __len__(self) -> int:
        raise NotImplementedError

    def inputs(self) -> tuple[Any, ...]:
        """The sequences it reads from (whose mapped pages `release_pages` drops)."""
        return ()

    def release_pages(self) -> None:
        for source in self.inputs():
            release_pages(source)

    def examples_at(self, indices: np.ndarray) -> list[dict[str, Any]]:
        raise NotImplementedError

    def fingerprint(self) -> str:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return self.examples_at(np.arange(len(self))[i])
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"example {i} of {n}")
        return self.examples_at(np.array([i % n]))[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for start in range(0, len(self), CHUNK):
            yield from self.examples_at(np.arange(start, min(start + CHUNK, len(self))))

    def texts_at(self, indices: np.ndarray | Sequence[int]) -> list[str]:
        """The "text" of the examples at `indices` (every example holds one: packing reads this)."""
        return [e["text"] for e in self.examples_at(np.asarray(indices, dtype=np.int64))]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str) or len(other) != len(self):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable-sequence semantics: equal to a list, so unhashable

    def __add__(self, other: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Concatenation materialises, as for a list (small data: tests, small objectives)."""
        return list(self) + list(other)

    def __radd__(self, other: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return list(other) + list(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} examples)"


class TextExamples(LazyExamples):
    """`{"type": "text", "text": texts[i]}` for every text (the plain LM objectives' examples)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def inputs(self) -> tuple[Any, ...]:
        return (self.texts,)

    def examples_at(self, indices: np.ndarray) -> list[dict[str, Any]]:
        return [{"type": "text", "text": t} for t in texts_at(self.texts, indices)]

    def fingerprint(self) -> str:
        return digest("TextExamples", fingerprint_of(self.texts))


def examples_fingerprint(examples: Sequence[dict[str, Any]]) -> str:
    """What the engine keys a resumable state (and packed blocks) by: `fingerprint_of` the examples."""
    return fingerprint_of(examples)


def example_types(examples: Sequence[dict[str, Any]]) -> set[str]:
    """The example types present (a lazy sequence declares them; a list is scanned)."""
    declared = getattr(examples, "types", None)
    if declared is not None:
        return set(declared)
    return {str(e.get("type")) for e in examples}


class ExampleTexts(TextSequence):
    """The "text" of each example, as a sequence of texts (packing's input: every packable example is one text)."""

    def __init__(self, examples: Sequence[dict[str, Any]]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def release_pages(self) -> None:
        release_pages(self.examples)

    def texts_at(self, indices: np.ndarray | Sequence[int]) -> list[str]:
        bulk = getattr(self.examples, "texts_at", None)
        if callable(bulk):
            return list(bulk(indices))
        return [str(self.examples[int(i)]["text"]) for i in indices]


def seeded_permutation(n: int, seed: Any, rng: Any = None) -> np.ndarray:
    """`random.Random(seed).shuffle(list(range(n)))` as an int64 array (the same permutation: shuffle depends on
    the length only), built in an `array` of 8 bytes per entry instead of a list of Python ints. Pass `rng`
    (a `random.Random`) to draw the next permutation of an existing stream."""
    import random
    from array import array

    order = array("q", range(n))
    (rng if rng is not None else random.Random(seed)).shuffle(order)
    # the array's buffer is shared, not copied (the array object stays alive as the buffer's owner)
    return np.frombuffer(order, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
