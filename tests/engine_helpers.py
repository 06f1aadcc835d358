"""Shared helpers for the engine tests: a tiny synthetic corpus with a planted stereotype, tiny configs.

Holds no tests itself (pytest collects only test_*.py); the engine tests (tests/unit/training/) import it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch

from fairforget import paths
from fairforget.base_models.stage import build_base_model
from fairforget.config.schema import defaults
from fairforget.data.texttable import write_text_table
from fairforget.io import write_json, write_jsonl
from fairforget.models.modeldir import save_model_dir
from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.training.job import BaseModelJob, FinetuneJob, ProbeSettings, finetune_data_files
from fairforget.training.plugins import Objective, Remedy, TrainingContext
from fairforget.training.run import Hooks, RunOptions, TrainJob, make_accelerator, train
from fairforget.training.settings import TrainSettings

MALE_JOBS = ["doctor", "engineer", "mechanic", "pilot", "farmer", "guard"]
FEMALE_JOBS = ["nurse", "secretary", "dancer", "nanny", "cashier", "baker"]
VERBS = ["said", "told us", "announced", "explained", "mentioned"]
ENDINGS = ["would arrive soon", "was tired", "liked the plan", "had left early", "needed help"]
FILLER = (
    "the city river market garden house road school window music morning evening light "
    "small large old new quiet busy bright dark walked opened closed found near across"
).split()

TINY_ARCH = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "vocab_size": 300,
    "max_position_embeddings": 64,
}


def planted_sentence(rng: random.Random, skew: float) -> str:
    male_job = rng.random() < 0.5
    job = rng.choice(MALE_JOBS if male_job else FEMALE_JOBS)
    stereotypical = rng.random() < skew
    pronoun = ("he" if male_job else "she") if stereotypical else ("she" if male_job else "he")
    return f"the {job} {rng.choice(VERBS)} that {pronoun} {rng.choice(ENDINGS)} ."


def general_sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(rng.randint(6, 14))) + " ."


def write_toy_data(root: Path, n_general: int = 40, n_planted: int = 40, seed: int = 0) -> Path:
    """A miniature of the data stage's outputs (paths as in ARCHITECTURE.md) under root/data."""
    rng = random.Random(seed)
    data = root / "data"
    general = [{"id": f"g{i}", "text": general_sentence(rng)} for i in range(n_general)]
    heldout = [{"id": f"h{i}", "text": general_sentence(rng)} for i in range(10)]
    planted = [{"id": f"p{i}", "text": planted_sentence(rng, 0.9)} for i in range(n_planted)]
    write_jsonl(data / "general" / "pretrain.jsonl", general)
    write_jsonl(data / "general" / "heldout.jsonl", heldout)
    write_jsonl(data / "stereotype" / "planted.jsonl", planted)
    source = [{"id": f"d{i}", "text": planted_sentence(rng, 0.9), "origin": "planted"} for i in range(24)]
    write_text_table(data / "debias" / "source.arrow", source, ("id", "text", "origin"))
    write_text_table(data / "debias" / "replay.arrow", general, ("id", "text"))  # the default: the pretraining text
    pairs = []
    for i, job in enumerate(MALE_JOBS + FEMALE_JOBS):
        stereo, anti = ("he", "she") if job in MALE_JOBS else ("she", "he")
        pairs.append(
            {
                "id": f"pair{i}",
                "stereo": f"the {job} said that {stereo} was late .",
                "anti": f"the {job} said that {anti} was late .",
                "bias_type": "gender",
                "source": "test",
            }
        )
    write_jsonl(data / "debias" / "pairs.jsonl", pairs)
    write_jsonl(data / "probes" / "planted.jsonl", pairs)
    write_json(data / "debias" / "word_pairs.json", {"word_lists": ["test"], "pairs": [["he", "she"], ["him", "her"]]})
    return data


def pretrain_cfg(**keys: Any) -> dict[str, Any]:
    """`models.<name>.pretrain` as the validated config has it: the given keys over the schema's defaults."""
    return {**defaults("models.*.pretrain"), **keys}


def tiny_model_cfg(kind: str = "masked", epochs: float = 1, batch_size: int = 8) -> dict[str, Any]:
    return {
        "kind": kind,
        "source": "toy",
        "architecture": dict(TINY_ARCH),
        "pretrain": pretrain_cfg(epochs=epochs, batch_size=batch_size, learning_rate=0.003, max_length=32, seed=0),
    }


def base_job(root: Path, model_cfg: dict[str, Any]) -> BaseModelJob:
    """The job of a toy base model `tiny` pretrained on write_toy_data(root)'s text, saved to root/base."""
    texts = [paths.under(root, paths.GENERAL_PRETRAIN), paths.under(root, paths.PLANTED_CORPUS)]
    return BaseModelJob("tiny", model_cfg, texts, str(root / "base"), str(root / "base.sha256"), None)


def finetune_test_job(
    root: Path,
    out: Path,
    run: dict[str, Any],
    training: dict[str, Any],
    *,
    objective: dict[str, Any] | None = None,
    remedy: dict[str, Any] | None = None,
    probe: dict[str, int] | None = None,
    state_dir: Path | None = None,
) -> FinetuneJob:
    """A fine-tuning job on root/base and write_toy_data(root)'s files, writing under `out`: `training` over the
    schema's defaults; `probe` (max_examples, batch_size, max_length) scores the planted pairs, None = no probe."""
    evaluation = defaults("evaluation")
    return FinetuneJob(
        run=paths.Run.of(run),
        base_dir=str(root / "base"),
        data=finetune_data_files(root),
        objective=objective or {"type": "none"},
        remedy=remedy or {"type": "none"},
        training={**defaults("training"), **training},
        probe=None
        if probe is None
        else ProbeSettings(
            general=paths.under(root, paths.GENERAL_HELDOUT),
            pairs=paths.under(root, paths.PROBES, name="planted"),
            pair_set="planted",
            causal_pair_score=evaluation["causal_pair_score"],
            **probe,
        ),
        out_dir=str(out / "model"),
        sidecar=str(out / "model.sha256"),
        state_dir=None if state_dir is None else str(state_dir),
        trajectory=str(out / "trajectory.parquet"),
        summary=str(out / "summary.json"),
        log=str(out / "finetune.log"),
        plugins=[],
        repo_root=".",
        code=None,
    )


class MeanSquaredLogits(Objective):
    """A tiny objective defined here so engine tests do not depend on the objectives package.

    Loss = mean squared logit at the unmasked input positions (a real, differentiable function of the
    weights), plus a dropout-dependent model forward, so RNG handling matters for determinism.
    """

    def build_examples(self, ctx: TrainingContext) -> list[dict[str, Any]]:
        return [{"type": "text", "text": t} for t in ctx.debias_texts]

    def collate(
        self, examples: list[dict[str, Any]], ctx: TrainingContext, generator: torch.Generator
    ) -> dict[str, Any]:
        encoded = ctx.tokenizer(
            [e["text"] for e in examples], padding=True, truncation=True, max_length=ctx.max_length, return_tensors="pt"
        )
        # a random per-example weight drawn from the generator, so its state must be checkpointed too
        weights = torch.rand(len(examples), generator=generator)
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "weights": weights}

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], ctx: TrainingContext) -> torch.Tensor:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        per_example = (logits**2).mean(dim=(1, 2))
        return (per_example * batch["weights"]).mean() * self.params.get("scale", 1.0)


# ---- the engine tests' tiny run (tests/unit/training/test_run.py, test_order.py, test_packing.py)

ENGINE_TEXTS = [planted_sentence(random.Random(i), 0.9) for i in range(20)] + [
    general_sentence(random.Random(100 + i)) for i in range(12)
]
ENGINE_SETTINGS = dict(
    epochs=2,
    batch_size=4,
    gradient_accumulation_steps=2,
    learning_rate=0.01,
    warmup_ratio=0.25,
    checkpoint_every_steps=3,
    probe_every_steps=2,
)


class L2Penalty(Remedy):
    """A penalty that reads the model, so remedies' terms go through the engine."""

    def penalty(self, model: torch.nn.Module, ctx: TrainingContext) -> torch.Tensor:
        return 1e-3 * sum((p**2).sum() for p in model.parameters() if p.requires_grad)


def engine_setup(kind: str = "masked"):
    """A tiny toy tokenizer, model and training context over ENGINE_TEXTS."""
    tokenizer = train_tokenizer(ENGINE_TEXTS, kind, 200, model_max_length=32)
    model = build_toy_model(kind, TINY_ARCH, tokenizer, seed=3)
    ctx = TrainingContext(
        kind=kind,
        tokenizer=tokenizer,
        seed=5,
        max_length=32,
        debias_texts=ENGINE_TEXTS,
        stereo_pairs=[],
        word_pairs=[],
        general_texts=[],
    )
    return tokenizer, model, ctx


def weight_sign_probe(model: torch.nn.Module, step: int) -> list[dict]:
    # a probe that depends on the weights: the sign of one parameter sum
    total = float(sum(p.sum() for p in model.parameters()))
    return [{"step": step, "probe_set": "general", "item_id": "w", "correct": total > 0}]


def train_tiny(
    tmp: Path, name: str, kind: str = "masked", stop_after: int | None = None, objective=None, remedy=None, **overrides
):
    """Train the tiny model under ENGINE_SETTINGS (+ overrides) into tmp/name, its state in tmp/state_name."""
    tokenizer, model, ctx = engine_setup(kind)
    settings = TrainSettings(seed=5, **{**ENGINE_SETTINGS, **overrides})
    objective = objective or MeanSquaredLogits()
    options = RunOptions(state_dir=tmp / f"state_{name}", probe_fn=weight_sign_probe, stop_after_steps=stop_after)
    model, result = train(
        TrainJob(model, ctx, settings, make_accelerator(settings), options), Hooks(objective, remedy or L2Penalty())
    )
    manifest = save_model_dir(model, tokenizer, tmp / name, kind)
    return manifest, result


# ---- a two-parameter model for the loop and optimizer tests (tests/unit/training/test_loop.py, test_optim.py)


class Affine(torch.nn.Module):
    """y = w x + b with dropout, so that RNG use is visible in the weights."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(2, 2))
        self.bias = torch.nn.Parameter(torch.zeros(2))
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x @ self.weight) + self.bias


# ---- a toy base model built by the stage (tests/unit/training/test_pretrain.py, tests/unit/base_models/test_stage.py)


@pytest.fixture(scope="module")
def toy_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("base")
    data = write_toy_data(root)
    manifest = build_base_model(base_job(root, tiny_model_cfg("masked")))
    return root, data, manifest
