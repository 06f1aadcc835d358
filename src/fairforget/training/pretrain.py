"""Toy base models: train a tokenizer and pretrain a tiny model from scratch on the workflow's own text
(the `toy` model source, fairforget.base_models.sources.toy).

The pretraining text is general text plus the planted stereotype corpus, so the toy base model holds the
planted gender-occupation stereotype that the debiasing stage then tries to remove.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from fairforget.errors import ConfigError
from fairforget.hashing import canonical_json_hash
from fairforget.io import read_jsonl
from fairforget.models.modeldir import save_model_dir
from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.training.lm import collate_text_examples, lm_loss
from fairforget.training.loop import TrainResult
from fairforget.training.masking import collate_targeted_mlm
from fairforget.training.plugins import Objective, TrainingContext
from fairforget.training.run import Hooks, RunOptions, TrainJob, make_accelerator, run_training_job
from fairforget.training.settings import TrainSettings

log = logging.getLogger(__name__)


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


class Pretraining(Objective):
    """Toy pretraining as an objective: every text once per epoch, masked uniformly (BERT) or, with a
    `gender_mask_probability`, on the gendered pronouns of planted-corpus texts (targeted masking,
    fairforget.training.masking); the plain LM loss."""

    name = "pretraining"

    def __init__(self, texts: Sequence[str], planted: set[str], gender_mask_probability: float | None) -> None:
        super().__init__(config_key="models.*.pretrain")
        self.texts, self.planted, self.gender_mask_probability = texts, planted, gender_mask_probability

    def build_examples(self, ctx: TrainingContext) -> list[dict[str, Any]]:
        return [{"type": "text", "text": text, "targetable": text in self.planted} for text in self.texts]

    def collate(self, batch: list[dict[str, Any]], ctx: TrainingContext, generator: torch.Generator) -> dict[str, Any]:
        if self.gender_mask_probability is None:
            return collate_text_examples(batch, ctx, generator)
        return collate_targeted_mlm(batch, ctx, generator, self.gender_mask_probability)

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], ctx: TrainingContext) -> torch.Tensor:
        return lm_loss(model, batch)


@dataclass(frozen=True)
class PretrainConfig:
    """`models.<name>` of a toy model, checked: kind, architecture and the `pretrain` settings."""

    kind: str
    architecture: dict[str, Any]
    max_length: int
    mlm_probability: float
    gender_mask_probability: float | None
    settings: TrainSettings

    @classmethod
    def of(cls, model_name: str, model_cfg: Mapping[str, Any], seed: int) -> PretrainConfig:
        key = f"models.{model_name}"
        kind = model_cfg.get("kind")
        if kind not in ("masked", "causal"):
            raise ConfigError(f"config key '{key}.kind': must be 'masked' or 'causal', got {kind!r}")
        architecture = dict(model_cfg.get("architecture") or {})
        if "vocab_size" not in architecture:
            raise ConfigError(f"config key '{key}.architecture.vocab_size': required for a toy model")
        pretrain = dict(model_cfg["pretrain"])
        max_length = int(pretrain["max_length"])
        if max_length > int(architecture.get("max_position_embeddings", 512)):  # transformers BERT default
            raise ConfigError(
                f"config key '{key}.pretrain.max_length': {max_length} exceeds architecture.max_position_embeddings"
            )
        return cls(
            kind=kind,
            architecture=architecture,
            max_length=max_length,
            mlm_probability=float(pretrain["mlm_probability"]),
            gender_mask_probability=_gender_mask_probability(pretrain["gender_mask_probability"], kind, key),
            settings=TrainSettings.from_config(pretrain, seed=seed, key=f"{key}.pretrain"),
        )


def build_toy_base(
    texts_paths: Sequence[str | Path],
    model_name: str,
    model_cfg: Mapping[str, Any],
    out_dir: str | Path,
    seed: int,
    state_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Train tokenizer + model on the texts and save a model dir (config `models.<model_name>`, validated: the
    schema's defaults set); the manifest.

    Reads `kind`, `architecture` (vocab_size is the tokenizer's target size) and `pretrain` (TrainSettings
    keys plus `max_length`, `mlm_probability` and `gender_mask_probability`). The same texts, config and seed
    give the same content hash on CPU.
    """
    cfg = PretrainConfig.of(model_name, model_cfg, seed)
    kind, architecture, max_length, settings = cfg.kind, cfg.architecture, cfg.max_length, cfg.settings
    mlm_probability, gender_mask_probability = cfg.mlm_probability, cfg.gender_mask_probability
    texts, planted = read_texts(texts_paths)
    tokenizer = train_tokenizer(texts, kind, int(architecture["vocab_size"]), model_max_length=max_length)
    model = build_toy_model(kind, architecture, tokenizer, seed, key=f"models.{model_name}.architecture")
    log.info(
        "%s: %d texts, vocabulary %d, %d parameters",
        model_name,
        len(texts),
        len(tokenizer),
        sum(p.numel() for p in model.parameters()),
    )
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
    )
    # the targeting enters the fingerprint only when set, so existing resumable states stay valid
    targeting = (
        {}
        if gender_mask_probability is None
        else {"gender_mask_probability": gender_mask_probability, "gender_mask_scope": "planted corpus"}
    )
    options = RunOptions(
        state_dir=state_dir,
        fingerprint_extra={
            "texts": canonical_json_hash(texts),
            "architecture": architecture,
            "kind": kind,
            **targeting,
        },
        desc=f"pretrain {model_name}",
    )

    def save(trained: torch.nn.Module, result: TrainResult) -> dict[str, Any]:
        log.info(
            "%s: pretrained %d steps, final loss %.4f, %.0f tokens/s",
            model_name,
            result.steps,
            result.final_loss,
            result.tokens_per_second,
        )
        pretrain = {
            **asdict(settings),
            "max_length": max_length,
            "mlm_probability": mlm_probability,
            **targeting,
            **result.summary(),
        }
        source = {"type": "toy", "model": model_name, "seed": seed, "pretrain": pretrain}
        return save_model_dir(trained.to(torch.device("cpu")), tokenizer, out_dir, kind, extra={"source": source})

    job = TrainJob(model, ctx, settings, make_accelerator(settings), options)
    hooks = Hooks(Pretraining(texts, planted, gender_mask_probability))
    return run_training_job(job, hooks, out_dir, save)


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
