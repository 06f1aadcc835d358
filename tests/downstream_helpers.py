"""Tiny models and task folders for the downstream tests (tests/unit/downstream/,
tests/workflow/test_downstream_rules.py).

Holds no tests itself (pytest collects only test_*.py); tests/project/test_downstream_helpers.py checks it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from fairforget.models.modeldir import save_model_dir, write_sidecar

FILLER = ["the", "a", "movie", "film", "was", "is", "plot", "actor", "story", "and", "very", "quite", "it", "this"]
PROMPT_WORDS = [
    "Question",
    "Answer",
    "Is",
    "sentence",
    "positive",
    "or",
    "negative",
    "True",
    "False",
    "yes",
    "no",
    "Does",
    "make",
    "sense",
    "Sentence",
    "1",
    "2",
    "Do",
    "both",
    "sentences",
    "mean",
    "same",
    "thing",
    "Neither",
    "?",
    ":",
    ",",
    ".",
]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>", "</s>"]
VOCAB = SPECIAL + sorted(set(FILLER + PROMPT_WORDS + ["good", "bad", "great"]))


def make_tokenizer(kind: str):
    """A word-level tokenizer: BERT-style ([CLS] a [SEP] b [SEP]) or Llama-style (<s> a b)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {word: index for index, word in enumerate(VOCAB)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    if kind == "masked":
        backend.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=backend,
            unk_token="[UNK]",
            pad_token="[PAD]",
            cls_token="[CLS]",
            sep_token="[SEP]",
            mask_token="[MASK]",
        )
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", vocab["<s>"])]
    )
    # no pad token on purpose: the loader must fall back to EOS, as for real Llama checkpoints
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        bos_token="<s>",
        eos_token="</s>",
        model_input_names=["input_ids", "attention_mask"],
    )


def make_model_dir(root: Path, kind: str, seed: int = 0, hidden: int = 32, layers: int = 1) -> tuple[Path, Path]:
    """Save a randomly initialised tiny BERT (masked) or Llama (causal) as a fairforget model dir + sidecar."""
    from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    tokenizer = make_tokenizer(kind)
    if kind == "masked":
        config = BertConfig(
            vocab_size=len(VOCAB),
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=2,
            intermediate_size=2 * hidden,
            max_position_embeddings=128,
            pad_token_id=VOCAB.index("[PAD]"),
        )
        model = BertForMaskedLM(config)
    else:
        config = LlamaConfig(
            vocab_size=len(VOCAB),
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=2,
            num_key_value_heads=2,
            intermediate_size=2 * hidden,
            max_position_embeddings=128,
            bos_token_id=VOCAB.index("<s>"),
            eos_token_id=VOCAB.index("</s>"),
        )
        model = LlamaForCausalLM(config)
    model_dir = root / f"{kind}-model"
    save_model_dir(model, tokenizer, model_dir, kind)
    sidecar = root / f"{kind}-model.sha256"
    write_sidecar(model_dir, sidecar)
    return model_dir, sidecar


def contains_good_records(n: int, seed: int, prefix: str) -> list[dict]:
    """Balanced synthetic SST-2-like records: label 1 iff the text contains the word 'good'."""
    rng = random.Random(seed)
    records = []
    for index in range(n):
        words = [rng.choice(FILLER) for _ in range(rng.randint(4, 8))]
        label = index % 2
        if label:
            words.insert(rng.randrange(len(words) + 1), "good")
        records.append({"id": f"{prefix}-{index}", "text_a": " ".join(words), "text_b": None, "label": label})
    rng.shuffle(records)
    return records


def write_task(
    root: Path,
    task: str,
    train: list[dict],
    dev: list[dict],
    metric: str = "accuracy",
    num_labels: int = 2,
    is_regression: bool = False,
    label_names: list[str] | None = None,
) -> Path:
    task_dir = root / "downstream" / task
    task_dir.mkdir(parents=True, exist_ok=True)
    for name, records in (("train", train), ("dev", dev)):
        (task_dir / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    meta = {
        "task": task,
        "metric": metric,
        "num_labels": num_labels,
        "is_regression": is_regression,
        "label_names": label_names or [str(i) for i in range(num_labels)],
        "n_train": len(train),
        "n_dev": len(dev),
        "seed": 0,
    }
    (task_dir / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return task_dir


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("downstream-models")
    return {kind: make_model_dir(root, kind) for kind in ("masked", "causal")}


@pytest.fixture(scope="session")
def good_task_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("downstream-task")
    return write_task(
        root,
        "sst2",
        contains_good_records(64, 1, "train"),
        contains_good_records(40, 2, "dev"),
        label_names=["negative", "positive"],
    )
