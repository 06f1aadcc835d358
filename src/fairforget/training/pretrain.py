"""Toy base models: train a tokenizer and pretrain a tiny model from scratch on the workflow's own text
(the `toy` model source, fairforget.base_models.sources.toy).

The pretraining text is general text plus the planted stereotype corpus, so the toy base model holds the
planted gender-occupation stereotype that the debiasing stage then tries to remove.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from fairforget.errors import ConfigError
from fairforget.hashing import canonical_json_hash
from fairforget.io import read_jsonl
from fairforget.models.modeldir import MANIFEST, save_model_dir
from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.training.engine import Engine, TrainSettings
from fairforget.training.lm import collate_text_examples, lm_loss, pretokenize
from fairforget.training.masking import collate_targeted_mlm
from fairforget.training.plugins import TrainingContext
from fairforget.training.state import clear_state

log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 64


def read_texts(paths: Sequence[str | Path]) -> tuple[list[str], set[str]]:
    """The "text" field of every record of the given JSONL files, in file order, and the set of those that
    belong to the planted-stereotype corpus (its records carry a `template`)."""
    texts: list[str] = []
    planted: set[str] = set()
    for path in paths:
        for record in read_jsonl(path, required=("text",)):
            texts.append(str(record["text"]))
            if "template" in record:
                planted.add(texts[-1])
    return texts, planted


def build_toy_base(
    texts_paths: Sequence[str | Path],
    model_name: str,
    model_cfg: Mapping[str, Any],
    out_dir: str | Path,
    seed: int,
    state_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Train tokenizer + model on the texts and save a model dir (config `models.<model_name>`); the manifest.

    Reads `kind`, `architecture` (vocab_size is the tokenizer's target size) and `pretrain` (TrainSettings
    keys plus `max_length`, default 64, and for masked models `mlm_probability`, default 0.15, and
    `gender_mask_probability`, default null: when set, gendered pronouns are masked with that probability
    instead of `mlm_probability` (targeted masking, fairforget.training.masking).
    The same texts, config and seed give the same content hash on CPU.
    """
    key = f"models.{model_name}"
    kind = model_cfg.get("kind")
    if kind not in ("masked", "causal"):
        raise ConfigError(f"config key '{key}.kind': must be 'masked' or 'causal', got {kind!r}")
    architecture = dict(model_cfg.get("architecture") or {})
    if "vocab_size" not in architecture:
        raise ConfigError(f"config key '{key}.architecture.vocab_size': required for a toy model")
    pretrain_cfg = dict(model_cfg.get("pretrain") or {})
    max_length = int(pretrain_cfg.pop("max_length", DEFAULT_MAX_LENGTH))
    mlm_probability = float(pretrain_cfg.pop("mlm_probability", 0.15))
    gender_mask_probability = _gender_mask_probability(pretrain_cfg.pop("gender_mask_probability", None), kind, key)
    pretrain_cfg.pop("seed", None)  # the caller passes the seed explicitly
    if max_length > int(architecture.get("max_position_embeddings", 512)):
        raise ConfigError(
            f"config key '{key}.pretrain.max_length': {max_length} exceeds architecture.max_position_embeddings"
        )
    settings = TrainSettings.from_config(pretrain_cfg, seed=seed, key=f"{key}.pretrain")

    texts, planted = read_texts(texts_paths)
    tokenizer = train_tokenizer(texts, kind, int(architecture["vocab_size"]), model_max_length=max_length)
    model = build_toy_model(kind, architecture, tokenizer, seed, key=f"{key}.architecture")
    log.info(
        "%s: %d texts, vocabulary %d, %d parameters",
        model_name,
        len(texts),
        len(tokenizer),
        sum(p.numel() for p in model.parameters()),
    )

    engine = Engine(settings)
    ctx = TrainingContext(
        kind=kind,
        tokenizer=tokenizer,
        seed=seed,
        max_length=max_length,
        debias_texts=[],
        stereo_pairs=[],
        word_pairs=[],
        general_texts=texts,
        mlm_probability=mlm_probability,
        device=engine.device,
    )
    examples = [{"type": "text", "text": text, "targetable": text in planted} for text in texts]
    pretokenize(ctx, texts)  # once, up front: per-batch tokenizer calls were a large share of a tiny model's step
    if gender_mask_probability is None:
        collate = lambda batch, generator: collate_text_examples(batch, ctx, generator)
    else:
        collate = lambda batch, generator: collate_targeted_mlm(batch, ctx, generator, gender_mask_probability)
    # the targeting enters the fingerprint only when set, so existing resumable states stay valid
    targeting = (
        {}
        if gender_mask_probability is None
        else {"gender_mask_probability": gender_mask_probability, "gender_mask_scope": "planted corpus"}
    )
    result = engine.fit(
        model,
        examples,
        collate,
        lambda m, batch: lm_loss(m, batch),
        state_dir=state_dir,
        fingerprint_extra={
            "texts": canonical_json_hash(texts),
            "architecture": architecture,
            "kind": kind,
            **targeting,
        },
        desc=f"pretrain {model_name}",
    )
    log.info(
        "%s: pretrained %d steps, final loss %.4f, %.0f tokens/s",
        model_name,
        result.steps,
        result.final_loss,
        result.tokens_per_second,
    )
    model = engine.accelerator.unwrap_model(model).to(torch.device("cpu"))
    Path(out_dir, MANIFEST).unlink(missing_ok=True)
    manifest = save_model_dir(
        model,
        tokenizer,
        out_dir,
        kind,
        extra={
            "source": {
                "type": "toy",
                "model": model_name,
                "seed": seed,
                "pretrain": {
                    **asdict(settings),
                    "max_length": max_length,
                    "mlm_probability": mlm_probability,
                    **targeting,
                    **result.summary(),
                },
            }
        },
    )
    if state_dir is not None:
        clear_state(state_dir)
    return manifest


def _gender_mask_probability(value: Any, kind: str, key: str) -> float | None:
    """`pretrain.gender_mask_probability`: null (uniform BERT masking) or a probability, masked models only."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise ConfigError(
            f"config key '{key}.pretrain.gender_mask_probability': must be a probability in [0, 1] "
            f"or null, got {value!r}"
        )
    if kind != "masked":
        raise ConfigError(
            f"config key '{key}.pretrain.gender_mask_probability': only masked models are masked; "
            f"remove it for kind {kind!r}"
        )
    return float(value)
