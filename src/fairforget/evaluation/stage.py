"""Stage 4: score models and compute forgetting and bias statistics (rules evaluate_base, evaluate_checkpoint).

`evaluate_base` scores a base model once (held-out text, probe pairs, StereoSet) and writes the scores and
its bias metrics; `evaluate_checkpoint` reuses those base scores, scores the fine-tuned checkpoint (jointly
with the base model when KL is asked for), and writes forgetting, selective forgetting, bias and trajectory
statistics. Both go through the content-addressed result store: the key is the checkpoint hash + evaluation
settings + sha256 of every data file used (+ base hash and trajectory hash for checkpoints), so a rerun is a
cache hit. The scores parquet files are kept beside the store entry (`<key>.scores/`) so a hit restores them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fairforget.code_identity import fingerprint_of
from fairforget.errors import DataError, ModelError
from fairforget.evaluation.conventions import attach_conventions
from fairforget.evaluation.job import EvaluationJob
from fairforget.hashing import sha256_file
from fairforget.io import read_json, write_json
from fairforget.metrics.base import (
    METRICS,
    SEAT,
    STEREOSET,
    TRAJECTORY,
    EvaluationData,
    EvaluationSettings,
    MetricContext,
    ModelScores,
)
from fairforget.metrics.bootstrap import MetricValue
from fairforget.metrics.conventions import conventions_record
from fairforget.metrics.inputs import active_metrics, data_files, load_data, requirements, token_set_texts
from fairforget.metrics.score_files import check_base_consistency, read_scores, write_scores
from fairforget.metrics.seat import ROLES
from fairforget.metrics.trajectory import read_trajectory
from fairforget.models.modeldir import KINDS, MANIFEST, LoadedModel, load_model_dir, read_sidecar
from fairforget.scoring.dispatch import score_texts, score_texts_joint
from fairforget.scoring.embeddings import sentence_embeddings
from fairforget.scoring.start_token import START_POLICIES, start_ids
from fairforget.scoring.stereoset import stereoset_sentence_scores
from fairforget.store import ResultStore

log = logging.getLogger(__name__)

# Bump when scoring or statistics change meaning: old store entries must not be reused.
# 3: scoring conventions side by side and truncation counts (metrics/conventions.py).
EVALUATION_VERSION = 3


def manifest_kind(model_dir: str | Path) -> str:
    """The model kind from the directory's manifest (the full verification happens when it is loaded)."""
    path = Path(model_dir) / MANIFEST
    kind = read_json(path).get("kind")
    if kind not in KINDS:
        raise ModelError(f"{path}: 'kind' must be one of {KINDS}, got {kind!r}")
    return kind


def score_model(
    model: Any,
    tokenizer: Any,
    kind: str,
    data: EvaluationData,
    needs: set[str],
    settings: EvaluationSettings,
    base_model: Any = None,
) -> tuple[ModelScores, ModelScores | None, dict[str, list[np.ndarray]]]:
    """Score one model on every needed set; with `base_model`, token sets are scored jointly (adds KL)."""
    scores = ModelScores(kind=kind)
    joint_base = ModelScores(kind=kind) if base_model is not None else None
    kl: dict[str, list[np.ndarray]] = {}
    common: dict[str, Any] = {"batch_size": settings.batch_size, "max_length": settings.max_length}
    for name, (_, texts) in token_set_texts(data, needs).items():
        log.info("scoring %s (%d texts)", name, len(texts))
        if base_model is not None and joint_base is not None:
            joint = score_texts_joint(base_model, model, tokenizer, kind, texts, **common)
            scores.token_sets[name], joint_base.token_sets[name], kl[name] = joint.tuned, joint.base, joint.kl
        else:
            scores.token_sets[name] = score_texts(model, tokenizer, kind, texts, **common)
    if STEREOSET in needs:
        log.info("scoring StereoSet (%d clusters)", len(data.stereoset))
        for candidate, values in stereoset_sentence_scores(model, tokenizer, kind, data.stereoset, **common).items():
            scores.sentence_scores[f"stereoset.{candidate}"] = values
    if SEAT in needs and kind == "masked":
        for test, spec in data.seat.items():
            scores.embeddings[test] = {
                role: sentence_embeddings(model, tokenizer, list(spec[role]["examples"]), **common) for role in ROLES
            }
    attach_conventions(scores, model, tokenizer, data, needs, settings)
    return scores, joint_base, kl


def compute_metrics(names: list[str], ctx: MetricContext) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        log.info("computing %s", name)
        values: dict[str, MetricValue] = METRICS.get(name)().compute(ctx)
        for statistic, value in values.items():
            out[f"{name}.{statistic}"] = value.to_json()
    return out


def _conventions(settings: EvaluationSettings, kind: str, metric_names: list[str], tokenizer: Any) -> dict[str, Any]:
    """The record of the reported conventions, with the start tokens this tokenizer actually gives them."""
    starts = None
    if kind == "causal":
        starts = {policy: tokenizer.convert_ids_to_tokens(start_ids(tokenizer, policy)) for policy in START_POLICIES}
        starts["one_pass"] = [tokenizer.bos_token]
    return conventions_record(settings.conventions, metric_names, kind, settings.max_length, starts)


def _prepare_torch(threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))


def _to_device(model: Any) -> Any:
    # A GPU when there is one (cluster runs); CPU otherwise, where reruns are bit-identical.
    return model.to("cuda") if torch.cuda.is_available() else model


def _store_key(
    store: ResultStore,
    checkpoint_hash: str,
    kind: str,
    settings: EvaluationSettings,
    files: Mapping[str, Path],
    extra: Mapping[str, Any],
) -> str:
    described = {
        "version": EVALUATION_VERSION,
        "evaluation": settings.to_json(),
        "data": {role: sha256_file(path) for role, path in sorted(files.items())},
        **extra,
    }
    return store.key(checkpoint_hash=checkpoint_hash, kind=kind, settings=described, seed=settings.bootstrap.seed)


def _code_part(code: Mapping[str, Any] | None) -> dict[str, Any]:
    """The code identity's part of a store key: none without one (direct calls in tests), so those keys stay."""
    return {} if code is None else {"code": fingerprint_of(code)}


def _cached(store: ResultStore, key: str, scores_dir: Path, compute: Any) -> tuple[dict[str, Any], bool]:
    """get_or_compute with the per-token scores stored (and hash-checked) as the entry's artifacts."""
    return store.get_or_compute(key, compute, artifacts_dir=scores_dir)


def _load_verified(model_dir: str | Path, sidecar: str | Path, expected_hash: str) -> LoadedModel:
    """The model directory loaded, after checking its manifest's hash against the one its sidecar recorded."""
    loaded = load_model_dir(model_dir)
    if loaded.content_hash != expected_hash:
        raise DataError(f"{sidecar}: hash does not match the manifest of {model_dir}")
    return loaded


def _write_metrics(
    store: ResultStore,
    key: str,
    scores_dir: Path,
    compute: Any,
    metrics_json: str | Path,
    kind: str,
    checkpoint_hash: str,
    base_hash: str,
    run: dict[str, Any] | None,
    what: str,
    code: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Metrics from the store (or `compute`d and stored) written to `metrics_json` with their provenance."""
    result, hit = _cached(store, key, scores_dir, compute)
    out = {
        "kind": kind,
        "checkpoint_hash": checkpoint_hash,
        "base_hash": base_hash,
        "run": run,
        "cache": {"hit": hit, "key": key},
        "code": dict(code) if code is not None else None,
        "metrics": result["metrics"],
        # which scoring convention each bias column follows (metrics/conventions.py); absent in old entries
        "conventions": result.get("conventions"),
    }
    write_json(metrics_json, out)
    log.info("%s: %d statistics (cache %s)", what, len(out["metrics"]), "hit" if hit else "miss")
    return out


def evaluate_base(
    model_dir: str | Path,
    sidecar: str | Path,
    heldout: str | Path | None,
    probes: Mapping[str, str | Path],
    seat_dir: str | Path | None,
    scores_dir: str | Path,
    metrics_json: str | Path,
    evaluation: dict[str, Any],
    store_dir: str | Path,
    threads: int | None = None,
    code: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Score a base model once and write `scores/` and `metrics.json` (bias metrics of the base model)."""
    _prepare_torch(threads)
    settings = EvaluationSettings.from_config(evaluation)
    checkpoint_hash = read_sidecar(sidecar)
    kind = manifest_kind(model_dir)
    bias_metrics = active_metrics(settings, kind, compares=False)
    # the base also scores what the checkpoints' comparison metrics will need from it
    needs = requirements(settings, active_metrics(settings, kind, compares=True)) - {TRAJECTORY}
    files = data_files(needs, heldout, probes, seat_dir, settings)
    store = ResultStore(store_dir)
    key = _store_key(store, checkpoint_hash, "base_eval", settings, files, _code_part(code))
    scores_dir = Path(scores_dir)

    def compute() -> dict[str, Any]:
        loaded = _load_verified(model_dir, sidecar, checkpoint_hash)
        data = load_data(files)
        scores, _, _ = score_model(_to_device(loaded.model), loaded.tokenizer, kind, data, needs, settings)
        write_scores(scores, data, scores_dir)
        ctx = MetricContext(kind=kind, data=data, settings=settings, scores=scores)
        return {
            "metrics": compute_metrics(bias_metrics, ctx),
            "conventions": _conventions(settings, kind, bias_metrics, loaded.tokenizer),
        }

    return _write_metrics(
        store,
        key,
        scores_dir,
        compute,
        metrics_json,
        "base_eval",
        checkpoint_hash,
        checkpoint_hash,
        None,
        f"base evaluation of {model_dir}",
        code,
    )


def evaluate_checkpoint(
    base_model_dir: str | Path,
    base_sidecar: str | Path,
    base_scores_dir: str | Path,
    model_dir: str | Path,
    sidecar: str | Path,
    trajectory: str | Path | None,
    heldout: str | Path | None,
    probes: Mapping[str, str | Path],
    seat_dir: str | Path | None,
    scores_dir: str | Path,
    metrics_json: str | Path,
    evaluation: dict[str, Any],
    store_dir: str | Path,
    run: dict[str, Any] | None = None,
    threads: int | None = None,
    code: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Forgetting, selective forgetting, bias and trajectory statistics of a fine-tuned checkpoint."""
    _prepare_torch(threads)
    settings = EvaluationSettings.from_config(evaluation)
    checkpoint_hash, base_hash = read_sidecar(sidecar), read_sidecar(base_sidecar)
    kind = manifest_kind(model_dir)
    names = active_metrics(settings, kind, compares=True)
    needs = requirements(settings, names)
    files = data_files(needs, heldout, probes, seat_dir, settings)
    if TRAJECTORY in needs:
        if trajectory is None:
            raise DataError("evaluation needs the training trajectory but none was given")
        files["trajectory"] = Path(trajectory)
    store = ResultStore(store_dir)
    key = _store_key(
        store, checkpoint_hash, "forgetting", settings, files, {"base_hash": base_hash, **_code_part(code)}
    )
    scores_dir = Path(scores_dir)

    def compute() -> dict[str, Any]:
        data = load_data({r: p for r, p in files.items() if r != "trajectory"})
        base_scores = read_scores(base_scores_dir, kind, data, needs)
        tuned = _load_verified(model_dir, sidecar, checkpoint_hash)
        base_model = None
        if settings.kl:
            base_model = _to_device(_load_verified(base_model_dir, base_sidecar, base_hash).model)
        scores, joint_base, kl = score_model(
            _to_device(tuned.model), tuned.tokenizer, kind, data, needs, settings, base_model
        )
        if joint_base is not None:
            check_base_consistency(base_scores, joint_base)
        write_scores(scores, data, scores_dir, kl=kl)
        ctx = MetricContext(
            kind=kind,
            data=data,
            settings=settings,
            scores=scores,
            base=base_scores,
            kl=kl,
            trajectory=read_trajectory(files["trajectory"]) if TRAJECTORY in needs else None,
        )
        return {
            "metrics": compute_metrics(names, ctx),
            "conventions": _conventions(settings, kind, names, tuned.tokenizer),
        }

    return _write_metrics(
        store,
        key,
        scores_dir,
        compute,
        metrics_json,
        "forgetting",
        checkpoint_hash,
        base_hash,
        run,
        f"checkpoint evaluation of {model_dir}",
        code,
    )


def run_evaluation_job(job: EvaluationJob, threads: int | None = None) -> dict[str, Any]:
    """The evaluation rules' entry point: a base model's evaluation, or a checkpoint's against its base model."""
    common: dict[str, Any] = {
        "model_dir": job.model_dir,
        "sidecar": job.sidecar,
        "heldout": job.heldout,
        "probes": job.probes,
        "seat_dir": job.seat_dir,
        "scores_dir": job.scores_dir,
        "metrics_json": job.metrics_json,
        "evaluation": job.evaluation,
        "store_dir": job.store_dir,
        "threads": threads,
        "code": job.code,
    }
    if job.base_model_dir is None or job.base_sidecar is None or job.base_scores_dir is None:
        return evaluate_base(**common)
    return evaluate_checkpoint(
        base_model_dir=job.base_model_dir,
        base_sidecar=job.base_sidecar,
        base_scores_dir=job.base_scores_dir,
        trajectory=job.trajectory,
        run=job.run,
        **common,
    )
