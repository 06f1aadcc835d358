"""The data-size axis (`size` wildcard) cuts the stereotype training pairs as it cuts the debiasing texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine_helpers import write_toy_data
from fairforget.data.texttable import read_text_records
from fairforget.errors import ConfigError
from fairforget.io import read_jsonl
from fairforget.models.toy import train_tokenizer
from fairforget.paths import Run
from fairforget.training.finetune import build_context, subset_pairs
from fairforget.training.job import finetune_data_files
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
    write_toy_data(tmp_path)
    data = finetune_data_files(tmp_path)
    run = Run("tiny", "unlikelihood", "none", str(size), 1)
    n_texts = len(read_text_records(data["source"]))
    all_pairs = [(r["stereo"], r["anti"]) for r in read_jsonl(data["pairs"])]
    tokenizer = train_tokenizer([r["text"] for r in read_text_records(data["source"])], "masked", 200)
    ctx = build_context(data, "masked", tokenizer, run, 32, 0.15)
    expected = len(all_pairs) if size == "full" else size
    assert len(ctx.stereo_pairs) == expected
    assert len(ctx.debias_texts) == (n_texts if size == "full" else size)
    assert set(ctx.stereo_pairs) <= set(all_pairs)
    examples = OBJECTIVES.get("unlikelihood")().build_examples(ctx)
    assert sum(e["type"] == "pair" for e in examples) == expected
    again = build_context(data, "masked", tokenizer, run, 32, 0.15)
    assert again.stereo_pairs == ctx.stereo_pairs
