"""The `data_sizes` axis (fairforget.data.sizes): labels, their order, percentages resolved to nested subsets."""

from __future__ import annotations

import pytest

from fairforget.data.sizes import resolve_size, size_label, size_rank
from fairforget.errors import ConfigError
from fairforget.training.finetune import subset_texts


def test_percentage_sizes_are_labels_resolved_to_nested_subsets() -> None:
    assert [size_label(s) for s in ("1%", "10%", "0.5%", "100%", 300, "full")] == [
        "1pct",
        "10pct",
        "0.5pct",
        "full",
        "300",
        "full",
    ]
    for bad in ("0%", "101%", "ten%", 0, True):
        with pytest.raises(ConfigError, match="data_sizes"):
            size_label(bad)
    assert sorted(["full", "10pct", "300", "1pct", "50"], key=size_rank) == ["50", "300", "1pct", "10pct", "full"]
    assert resolve_size("10pct", 2000) == 200 and resolve_size("0.01pct", 100) == 1 and resolve_size("64", 9) == "64"
    texts = [f"text {i}" for i in range(5000)]
    one, ten = (subset_texts(texts, size, seed=3) for size in ("1pct", "10pct"))
    assert (len(one), len(ten)) == (50, 500) and set(one) < set(ten)
    assert set(subset_texts(texts, "1pct", seed=4)) != set(one)  # seeded
