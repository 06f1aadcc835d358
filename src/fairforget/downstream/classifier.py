"""Loading a verified model directory as a sequence classifier (new, seeded head), and batching its input."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from fairforget.downstream.tasks import Example
from fairforget.errors import ModelError
from fairforget.models.modeldir import verify_model_dir


def ensure_pad_token(tokenizer: Any, where: str | Path) -> None:
    """Causal tokenizers often lack a pad token; pad with EOS (or UNK) as is usual for Llama."""
    if tokenizer.pad_token_id is not None:
        return
    for candidate in (tokenizer.eos_token, tokenizer.unk_token):
        if candidate is not None:
            tokenizer.pad_token = candidate
            return
    raise ModelError(f"{where}: the tokenizer has no pad, eos or unk token to pad batches with")


def load_classifier(
    model_dir: str | Path, num_labels: int, is_regression: bool, seed: int
) -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """The directory's weights under a new classification (or regression, num_labels=1) head.

    The manifest is verified first; the head (and BERT's pooler, which a masked-LM checkpoint does not hold)
    is initialised from `torch.manual_seed(seed)`, so the seed fixes it. Weights load as float32: mixed
    precision, where configured, is autocast during training.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_dir = Path(model_dir)
    manifest = verify_model_dir(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
    ensure_pad_token(tokenizer, model_dir)
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir,
        num_labels=num_labels,
        problem_type="regression" if is_regression else "single_label_classification",
        use_safetensors=True,
        trust_remote_code=False,
        dtype=torch.float32,
    )
    # Llama-style classifiers pool the last non-pad token and need to know the pad id.
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer, manifest


def accepts_token_type_ids(model: torch.nn.Module) -> bool:
    return "token_type_ids" in inspect.signature(model.forward).parameters


def encode_examples(tokenizer: Any, examples: Sequence[Example], max_length: int) -> list[dict[str, list[int]]]:
    """Token ids per example (sentence pairs joined the tokenizer's way), truncated to max_length."""
    if not examples:
        return []
    texts_a = [example.text_a for example in examples]
    pairs = [example.text_b is not None for example in examples]
    if all(pairs):  # one batched call: fast tokenizers encode in parallel
        ids = tokenizer(
            texts_a, [example.text_b for example in examples], truncation="longest_first", max_length=max_length
        )
    elif not any(pairs):
        ids = tokenizer(texts_a, truncation=True, max_length=max_length)
    else:
        return [item for example in examples for item in encode_examples(tokenizer, [example], max_length)]
    keys = ["input_ids", "attention_mask"] + (["token_type_ids"] if "token_type_ids" in ids else [])
    # token_type_ids mark BERT's second segment of a pair
    return [{key: ids[key][row] for key in keys} for row in range(len(examples))]


def collate(
    tokenizer: Any,
    encoded: Sequence[dict[str, list[int]]],
    labels: Sequence[float] | None,
    is_regression: bool,
    use_token_type_ids: bool = False,
) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest member (right padding); attach labels when given.

    `use_token_type_ids`: pass segment ids (BERT); Llama's forward does not take them.
    """
    width = max(len(item["input_ids"]) for item in encoded)
    pad_id = tokenizer.pad_token_id
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, item in enumerate(encoded):
        length = len(item["input_ids"])
        input_ids[row, :length] = torch.tensor(item["input_ids"], dtype=torch.long)
        attention_mask[row, :length] = torch.tensor(item["attention_mask"], dtype=torch.long)
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if use_token_type_ids and all("token_type_ids" in item for item in encoded):
        token_type_ids = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, item in enumerate(encoded):
            token_type_ids[row, : len(item["token_type_ids"])] = torch.tensor(item["token_type_ids"], dtype=torch.long)
        batch["token_type_ids"] = token_type_ids
    if labels is not None:
        dtype = torch.float32 if is_regression else torch.long
        batch["labels"] = torch.tensor(list(labels), dtype=dtype)
    return batch
