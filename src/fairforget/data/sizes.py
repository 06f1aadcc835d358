"""The `data_sizes` axis: size labels, their order, and percentages of the debiasing corpus resolved to counts.

A size is `full`, a number of texts, or a percentage of the debiasing corpus (`"10%"`, path label `10pct`).
"""

from __future__ import annotations

import re
from typing import Any

from fairforget.errors import ConfigError

_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)(%|pct)$")


def size_label(size: Any) -> str:
    """The path label of a `data_sizes` entry: `full`, a positive integer (texts), or a percentage of the
    debiasing corpus (`"10%"` -> `10pct`; `"100%"` is `full`)."""
    if size == "full":
        return "full"
    if isinstance(size, str) and (match := _PERCENT.match(size)):
        value = float(match.group(1))
        if 0 < value <= 100:
            return "full" if value == 100 else f"{value:g}pct"
    elif not isinstance(size, bool) and isinstance(size, int) and size > 0:
        return str(size)
    raise ConfigError(
        f"config key 'data_sizes': each size must be a positive integer, a percentage in (0, 100] such as "
        f"'10%', or 'full', got {size!r}"
    )


def size_fraction(label: str) -> float | None:
    """The corpus fraction of a percentage label (`10pct` -> 0.1); None for `full` and integer sizes."""
    match = _PERCENT.match(str(label))
    return float(match.group(1)) / 100 if match else None


def size_rank(label: str) -> tuple[int, float]:
    """Sort key of size labels: integer sizes by count, then percentages by fraction, then `full`."""
    if label == "full":
        return (2, 0.0)
    fraction = size_fraction(label)
    return (1, fraction) if fraction is not None else (0, float(label))


def resolve_size(label: str | int, n_texts: int) -> str | int:
    """A run's size for `subset_texts`: a percentage becomes round(fraction x n_texts) texts (at least 1).

    `subset_texts` keeps a prefix of one seeded permutation of the corpus, so for one seed the 1% texts are the
    first texts of the 10% texts: the fractions are nested. The fraction counts texts (chunks of at most
    data.general.max_words words), so it is a token budget up to the spread of chunk lengths."""
    fraction = size_fraction(str(label))
    if fraction is None:
        return label
    return max(1, round(fraction * n_texts))
