"""The data-size axis (`size` wildcard) cuts the stereotype training pairs as it cuts the debiasing texts; a run
records how far its weights moved from the base model's and warns when none moved."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine_helpers import base_job, finetune_test_job, tiny_model_cfg, write_toy_data
from fairforget.base_models.stage import build_base_model
from fairforget.data.texttable import read_text_records
from fairforget.errors import ConfigError
from fairforget.io import read_json, read_jsonl
from fairforget.models.toy import train_tokenizer
from fairforget.paths import Run
from fairforget.training import finetune
from fairforget.training.finetune import build_context, run_finetune_job, subset_pairs
from fairforget.training.job import finetune_data_files
from fairforget.training.objectives.none import ContinuedPretraining
from fairforget.training.plugins import OBJECTIVES, TrainingContext
from fairforget.training.run import Hooks

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


class NoGradient(ContinuedPretraining):
    """The LM loss times 0: every gradient is zero, so AdamW without weight decay moves no weight (an objective
    whose loss never reaches the weights)."""

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], ctx: TrainingContext) -> torch.Tensor:
        return 0.0 * super().loss(model, batch, ctx)


@pytest.mark.parametrize(("kind", "moves"), [("causal", True), ("masked", True), ("causal", False)])
def test_a_run_records_its_weight_change_and_warns_when_nothing_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, kind: str, moves: bool
) -> None:
    torch.set_num_threads(1)
    write_toy_data(tmp_path)
    build_base_model(base_job(tmp_path, tiny_model_cfg(kind)))
    run = {"model": "tiny", "objective": "none", "remedy": "none", "size": "8", "seed": 1}
    training = {"max_steps": 2, "batch_size": 4, "learning_rate": 0.003, "weight_decay": 0.0, "max_length": 32}
    job = finetune_test_job(tmp_path, tmp_path / "run", run, training)
    if not moves:
        monkeypatch.setattr(finetune, "plugin_hooks", lambda *args: Hooks(NoGradient(config_key="objectives.none")))
    with caplog.at_level(logging.INFO, logger="fairforget.training.finetune"):
        run_finetune_job(job)
    change = read_json(job.summary)["weight_change"]
    saved = load_file(str(Path(job.base_dir) / "model.safetensors"))  # tied weights are saved once
    assert change["total"] == sum(t.numel() for t in saved.values())
    warned = "bit-identical to the base model's" in caplog.text
    if moves:
        assert 0 < change["changed"] <= change["total"] and change["max_abs"] > 0 and change["relative_l2"] > 0
        assert not warned
    else:
        assert change == {"max_abs": 0.0, "changed": 0, "total": change["total"], "relative_l2": 0.0}
        assert warned


def test_a_weight_change_that_cannot_be_measured_is_a_warning_not_a_failed_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name, tensors in (("base", {"a": torch.zeros(2), "b": torch.zeros(1)}), ("tuned", {"a": torch.ones(2)})):
        (tmp_path / name).mkdir()
        save_file(tensors, str(tmp_path / name / "model.safetensors"))
    with caplog.at_level(logging.WARNING, logger="fairforget.training.finetune"):
        change = finetune.checked_weight_change(tmp_path / "base", tmp_path / "tuned", "m/o/r/1/seed0")
    assert set(change) == {"error"} and "tensors differ" in change["error"]
    assert "run m/o/r/1/seed0: weight change from the base model not measured" in caplog.text
