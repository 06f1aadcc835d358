"""The data-size axis (`size` wildcard) cuts the stereotype training pairs as it cuts the debiasing texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine_helpers import write_toy_data
from fairforget.data.texttable import read_text_records
from fairforget.errors import ConfigError
from fairforget.io import read_jsonl
from fairforget.models.toy import train_tokenizer
from fairforget.training.finetune import PAIRS, SOURCE, build_context, subset_pairs
from fairforget.training.plugins import OBJECTIVES

PAIR_LIST = [(f"s{i}", f"a{i}") for i in range(10)]


def test_subset_pairs_is_seeded_in_file_order_and_capped() -> None:
    four = subset_pairs(PAIR_LIST, 4, 0)
    assert len(four) == 4 and len(set(four)) == 4
    assert four == sorted(four, key=PAIR_LIST.index)  # file order kept
    assert four == subset_pairs(PAIR_LIST, "4", 0)
    assert any(subset_pairs(PAIR_LIST, 4, seed) != four for seed in range(1, 6))
    assert subset_pairs(PAIR_LIST, "full", 3) == PAIR_LIST
    assert subset_pairs(PAIR_LIST, 25, 0) == PAIR_LIST  # more than there are: all of them
    with pytest.raises(ConfigError, match="size must be positive"):
        subset_pairs(PAIR_LIST, 0, 0)


@pytest.mark.parametrize("size", [5, "full"])
def test_unlikelihood_trains_on_the_runs_share_of_pairs(tmp_path: Path, size: int | str) -> None:
    data = write_toy_data(tmp_path)
    n_texts = len(read_text_records(data / SOURCE))
    all_pairs = [(r["stereo"], r["anti"]) for r in read_jsonl(data / PAIRS)]
    tokenizer = train_tokenizer([r["text"] for r in read_text_records(data / SOURCE)], "masked", 200)
    ctx = build_context(data, "masked", tokenizer, {"size": size, "seed": 1}, 32, 0.15)
    expected = len(all_pairs) if size == "full" else size
    assert len(ctx.stereo_pairs) == expected
    assert len(ctx.debias_texts) == (n_texts if size == "full" else size)
    assert set(ctx.stereo_pairs) <= set(all_pairs)
    examples = OBJECTIVES.get("unlikelihood")().build_examples(ctx)
    assert sum(e["type"] == "pair" for e in examples) == expected
    again = build_context(data, "masked", tokenizer, {"size": size, "seed": 1}, 32, 0.15)
    assert again.stereo_pairs == ctx.stereo_pairs
