"""Targeted MLM masking for toy pretraining (fairforget.training.masking) and its pretrain setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import REPO, load_config
from engine_helpers import pretrain_cfg
from fairforget.errors import ConfigError, TrainingError
from fairforget.models.toy import train_tokenizer
from fairforget.training.lm import IGNORE_INDEX, mask_tokens, tokenize
from fairforget.training.masking import (
    GENDERED_PRONOUNS,
    collate_targeted_mlm,
    target_positions,
    targeted_mask_tokens,
)
from fairforget.training.plugins import TrainingContext
from fairforget.training.pretrain import build_toy_base
from objectives_helpers import context

TEXTS = [
    "the nurse said that she would arrive soon .",
    "the driver lost his keys and he went home .",
    "there is no pronoun in this sentence at all .",
    "She thanked him ; hers was the better idea .",
]


@pytest.fixture(scope="module")
def tokenizer():
    corpus = TEXTS * 5 + ["the teacher told us that her work made him happy ."] * 5
    return train_tokenizer(corpus, "masked", vocab_size=200, model_max_length=32)


def _pieces(tokenizer, encoded, row: int, mask: torch.Tensor) -> list[str]:
    return tokenizer.convert_ids_to_tokens(encoded["input_ids"][row][mask[row]].tolist())


def test_target_positions_are_whole_gendered_words(tokenizer) -> None:
    encoded = tokenize(tokenizer, TEXTS, 32)
    targeted = target_positions(TEXTS, encoded["offsets"], GENDERED_PRONOUNS)
    assert _pieces(tokenizer, encoded, 0, targeted) == ["she"]
    assert _pieces(tokenizer, encoded, 1, targeted) == ["his", "he"]
    assert not targeted[2].any()
    assert _pieces(tokenizer, encoded, 3, targeted) == ["she", "him", "hers"]  # case-insensitive
    assert not (targeted & encoded["special_tokens_mask"]).any()


def test_a_word_piece_is_not_a_whole_word() -> None:
    text = "hers shed he"
    # hand-made spans: her|s, she|d, he, and a special token (0, 0)
    offsets = torch.tensor([[[0, 0], [0, 3], [3, 4], [5, 8], [8, 9], [10, 12], [0, 0]]])
    assert target_positions([text], offsets, GENDERED_PRONOUNS)[0].tolist() == [
        False,
        False,
        False,
        False,
        False,
        True,
        False,
    ]


def _batch(tokenizer):
    encoded = tokenize(tokenizer, TEXTS, 32)
    targeted = target_positions(TEXTS, encoded["offsets"], GENDERED_PRONOUNS)
    return encoded, targeted, ~encoded["special_tokens_mask"]


def test_probability_one_masks_exactly_the_targeted_words(tokenizer) -> None:
    encoded, targeted, maskable = _batch(tokenizer)
    ids = encoded["input_ids"]
    corrupted, labels = targeted_mask_tokens(
        ids,
        maskable,
        targeted,
        tokenizer,
        torch.Generator().manual_seed(3),
        mlm_probability=0.5,
        target_probability=1.0,
    )
    selected = labels != IGNORE_INDEX
    for row in (0, 1, 3):  # rows with a targeted word: only those words, every one of them
        assert torch.equal(selected[row], targeted[row])
    assert selected[2].any() and not (selected[2] & ~maskable[2]).any()  # no target: uniform BERT masking
    assert torch.equal(labels[selected], ids[selected])  # label = original id at selected positions
    assert torch.equal(corrupted[~selected], ids[~selected])  # nothing else is touched


def test_probability_zero_is_bert_masking(tokenizer) -> None:
    encoded, targeted, maskable = _batch(tokenizer)
    ids = encoded["input_ids"]
    expected = mask_tokens(ids, maskable, tokenizer, torch.Generator().manual_seed(5), 0.3)
    got = targeted_mask_tokens(
        ids,
        maskable,
        targeted,
        tokenizer,
        torch.Generator().manual_seed(5),
        mlm_probability=0.3,
        target_probability=0.0,
    )
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_deterministic_per_seed(tokenizer) -> None:
    encoded, targeted, maskable = _batch(tokenizer)
    ids = encoded["input_ids"].repeat(8, 1)  # 32 rows: the row draws differ between seeds
    targeted, maskable = targeted.repeat(8, 1), maskable.repeat(8, 1)

    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        return targeted_mask_tokens(
            ids,
            maskable,
            targeted,
            tokenizer,
            torch.Generator().manual_seed(seed),
            mlm_probability=0.15,
            target_probability=0.5,
        )

    first, again, other = run(11), run(11), run(12)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[1], other[1])


def test_row_share_follows_probability(tokenizer) -> None:
    encoded, targeted, maskable = _batch(tokenizer)
    rows = 4000
    ids = encoded["input_ids"][0:1].repeat(rows, 1)
    corrupted, labels = targeted_mask_tokens(
        ids,
        maskable[0:1].repeat(rows, 1),
        targeted[0:1].repeat(rows, 1),
        tokenizer,
        torch.Generator().manual_seed(0),
        mlm_probability=0.15,
        target_probability=0.7,
    )
    selected = labels != IGNORE_INDEX
    only_target = (selected == targeted[0:1]).all(dim=1)
    # targeted rows (0.7) + uniform rows that happen to pick exactly the pronoun (0.3 x 0.15 x 0.85^9 ~ 0.01)
    assert 0.68 < only_target.float().mean().item() < 0.75
    pronoun = targeted[0].nonzero()[0, 0]
    replaced = corrupted[selected[:, pronoun], pronoun]
    share_mask = (replaced == tokenizer.mask_token_id).float().mean().item()
    assert 0.76 < share_mask < 0.84  # BERT's 80% [MASK] share holds for the targeted words too


def _context_without_corpora(kind: str, tokenizer) -> TrainingContext:
    """A context whose corpora are empty: the collate functions read only the examples they are given."""
    return context(kind, tokenizer, max_length=32, debias_texts=[], stereo_pairs=[], word_pairs=[], general_texts=[])


def test_bad_probability_and_kind(tokenizer) -> None:
    encoded, targeted, maskable = _batch(tokenizer)
    with pytest.raises(TrainingError, match="gender_mask_probability"):
        targeted_mask_tokens(encoded["input_ids"], maskable, targeted, tokenizer, torch.Generator(), 0.15, 1.5)
    ctx = _context_without_corpora("causal", tokenizer)
    with pytest.raises(TrainingError, match="masked models only"):
        collate_targeted_mlm([{"type": "text", "text": TEXTS[0]}], ctx, torch.Generator(), 0.5)


def test_collate_builds_a_masked_batch(tokenizer) -> None:
    ctx = _context_without_corpora("masked", tokenizer)
    batch = collate_targeted_mlm(
        [{"type": "text", "text": t} for t in TEXTS[:2]], ctx, torch.Generator().manual_seed(0), 1.0
    )
    assert batch["kind"] == "masked"
    pieces = tokenizer.convert_ids_to_tokens(tokenize(tokenizer, TEXTS[:2], 32)["input_ids"][batch["labels"] != -100])
    assert pieces == ["she", "his", "he"]


def _texts_file(tmp_path: Path, planted: bool = False) -> Path:
    """16 texts; `planted`: records as the planted corpus writes them (with a `template`), targetable."""
    path = tmp_path / ("planted.jsonl" if planted else "texts.jsonl")
    extra = {"template": "train-0"} if planted else {}
    lines = [json.dumps({"id": f"{planted}{i}", "text": f"{TEXTS[i % len(TEXTS)]} {i}", **extra}) for i in range(16)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_only_targetable_examples_are_masked_on_their_pronouns(tokenizer) -> None:
    """General text keeps uniform masking even at probability 1 (else the base learns "a mask is a pronoun")."""
    ctx = _context_without_corpora("masked", tokenizer)
    examples = [
        {"type": "text", "text": TEXTS[0], "targetable": True},
        {"type": "text", "text": TEXTS[0], "targetable": False},
    ]
    general = TrainingContext(**{**ctx.__dict__})
    batch = collate_targeted_mlm(examples, ctx, torch.Generator().manual_seed(3), 1.0)
    plain = collate_targeted_mlm(examples, general, torch.Generator().manual_seed(3), 0.0)
    ids = tokenize(tokenizer, [TEXTS[0]], 32)["input_ids"][0]
    assert tokenizer.convert_ids_to_tokens(ids[batch["labels"][0] != IGNORE_INDEX].tolist()) == ["she"]
    # the non-targetable row gets exactly the uniform draw that probability 0 gives it
    assert torch.equal(batch["labels"][1], plain["labels"][1])


def _model_cfg(kind: str, **pretrain) -> dict:
    return {
        "kind": kind,
        "source": "toy",
        "architecture": {
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 32,
            "vocab_size": 120,
            "max_position_embeddings": 32,
        },
        "pretrain": pretrain_cfg(epochs=1, batch_size=8, max_length=32, **pretrain),
    }


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("masked", 1.5, "probability in"),
        ("masked", "often", "probability in"),
        ("causal", 0.5, "only masked"),
    ],
)
def test_pretrain_setting_is_checked(tmp_path: Path, kind: str, value, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"models\.toy\.pretrain\.gender_mask_probability.*{message}"):
        build_toy_base(
            [_texts_file(tmp_path)], "toy", _model_cfg(kind, gender_mask_probability=value), tmp_path / "model", seed=0
        )


def test_pretrain_records_the_setting_and_changes_the_model(tmp_path: Path, one_torch_thread) -> None:
    texts = [_texts_file(tmp_path), _texts_file(tmp_path, planted=True)]
    plain = build_toy_base(texts, "toy", _model_cfg("masked"), tmp_path / "plain", seed=0)
    targeted = build_toy_base(
        texts, "toy", _model_cfg("masked", gender_mask_probability=1.0), tmp_path / "targeted", seed=0
    )
    again = build_toy_base(texts, "toy", _model_cfg("masked", gender_mask_probability=1.0), tmp_path / "again", seed=0)
    assert "gender_mask_probability" not in plain["source"]["pretrain"]
    assert targeted["source"]["pretrain"]["gender_mask_probability"] == 1.0
    assert targeted["content_hash"] == again["content_hash"]
    assert targeted["content_hash"] != plain["content_hash"]
    assert targeted["files"]["model.safetensors"] != plain["files"]["model.safetensors"]  # the weights, too


@pytest.mark.parametrize("value", [1.5, "often"])
def test_schema_rejects_a_bad_gender_mask_probability(value) -> None:
    config = load_config("micro.yaml")
    config["models"]["bert-tiny"]["pretrain"]["gender_mask_probability"] = value
    with pytest.raises(WorkflowError, match="gender_mask_probability"):
        validate(config, str(REPO / "config" / "schema.yaml"))
