"""The downstream stage reads what the data stage writes: the shipped GLUE files, prepared, load and map labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fairforget.downstream.prompts import template_for
from fairforget.downstream.tasks import load_task

glue = pytest.importorskip("fairforget.data.glue")
GLUE_DIR = Path(__file__).resolve().parents[3] / "resources" / "data" / "glue"


@pytest.mark.parametrize("name", ["sst2", "cola", "rte", "wnli", "stsb"])
def test_prepared_shipped_task_loads(name, tmp_path):
    files = glue.task_files(name, GLUE_DIR)
    out = tmp_path / name
    meta = glue.prepare_downstream(
        name,
        files["train"],
        files["dev"],
        out / "train.jsonl",
        out / "dev.jsonl",
        out / "meta.json",
        {"train_max_examples": 30, "dev_max_examples": 20},
        seed=0,
    )
    task = load_task(out, name)
    assert len(task.train) == 30 and len(task.dev) == 20
    assert task.primary_metric == {"cola": "mcc", "stsb": "pearson"}.get(name, "accuracy")
    assert task.is_regression == (name == "stsb") == meta["is_regression"]
    if name == "stsb":
        assert task.metric_names == ("pearson", "spearman")
    else:
        template = template_for(task)  # label order checked against meta.json's label_names
        assert len(template.choices) == task.num_labels
        assert template.prompt(task.dev[0], "x").endswith("Answer:")


def test_missing_mrpc_is_explained(tmp_path):
    from fairforget.errors import DataError

    with pytest.raises(DataError, match="MRPC"):
        glue.task_files("mrpc", GLUE_DIR)
    with pytest.raises(DataError, match="'mrpc' is missing"):
        load_task(tmp_path / "mrpc", "mrpc")


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_protocol_runs_on_toy_tokenizers_and_shipped_data(kind, tmp_path):
    """The models stage's toy tokenizers (WordPiece / byte-level BPE) with real prepared SST-2 and RTE rows."""
    import torch

    from fairforget.downstream.finetune import finetune_and_evaluate
    from fairforget.downstream.settings import parse_settings
    from fairforget.downstream.zeroshot import zeroshot_evaluate
    from fairforget.models.modeldir import save_model_dir
    from fairforget.models.toy import build_toy_model, train_tokenizer

    tasks = {}
    for name in ("sst2", "rte"):
        files = glue.task_files(name, GLUE_DIR)
        out = tmp_path / name
        glue.prepare_downstream(
            name,
            files["train"],
            files["dev"],
            out / "train.jsonl",
            out / "dev.jsonl",
            out / "meta.json",
            {"train_max_examples": 24, "dev_max_examples": 12},
            seed=0,
        )
        tasks[name] = load_task(out, name)
    texts = [e.text_a for task in tasks.values() for e in task.train] + ["Question: True or False? Answer: positive"]
    tokenizer = train_tokenizer(texts, kind, 400, model_max_length=64)
    architecture = {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 128,
        "vocab_size": 400,
    }
    model_dir = tmp_path / "model"
    save_model_dir(build_toy_model(kind, architecture, tokenizer, seed=0), tokenizer, model_dir, kind)
    torch.set_num_threads(1)
    settings = parse_settings({"epochs": 1, "batch_size": 8, "learning_rate": 1e-3, "max_length": 64})
    for task in tasks.values():
        outcome = finetune_and_evaluate(model_dir, task, settings, seed=0, progress=False)
        assert outcome.train_steps == 3 and len(outcome.predictions) == 12
        if kind == "causal":
            zeroshot = zeroshot_evaluate(model_dir, task, settings, progress=False)
            assert zeroshot.loglikelihoods.shape == (12, 2) and np.all(zeroshot.loglikelihoods < 0)
