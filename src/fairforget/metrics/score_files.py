"""The scores directory of an evaluated model: `tokens.parquet` and `sentences.parquet`.

tokens.parquet: one row per scored token: set ("heldout", "<pair set>.stereo", "<pair set>.anti"), text_id,
token_index, token_id, logprob (natural log), correct (top-1), and kl (KL(base || tuned), checkpoints only).
sentences.parquet: StereoSet candidate scores: set ("stereoset.<candidate>"), item_id, score; and the extra-pass
conventions' sentence scores (docs/metrics.md §5.1), set "convention.<name>.<side or candidate>", item_id (the
pair's or cluster's id), score (mean token log-probability), so that a checkpoint's extra-pass scores are
compared with its base's (§5.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fairforget.errors import DataError
from fairforget.metrics.base import (
    HELDOUT,
    PAIR_SETS,
    STEREOSET,
    STEREOSET_CANDIDATES,
    EvaluationData,
    ModelScores,
    pair_requirement,
)
from fairforget.metrics.conventions import CONVENTIONS
from fairforget.metrics.inputs import token_set_texts
from fairforget.scoring.scores import TextScores

TOKENS_FILE = "tokens.parquet"
# sentences.parquet's `set` prefix of an extra-pass convention's scores
CONVENTION_SET = "convention."
SENTENCES_FILE = "sentences.parquet"


def write_scores(
    scores: ModelScores, data: EvaluationData, out_dir: str | Path, kl: Mapping[str, list[np.ndarray]] | None = None
) -> None:
    """`tokens.parquet` (one row per scored token) and `sentences.parquet` (StereoSet candidate scores)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sets = token_set_texts(data, set(_needs_of(scores)))
    frames = []
    for name, text_scores in scores.token_sets.items():
        ids = sets[name][0]
        lengths = text_scores.n_tokens()
        columns: dict[str, Any] = {
            "set": np.repeat(np.array([name], dtype=object), int(lengths.sum())).astype(str),
            "text_id": np.repeat(np.array(ids, dtype=object), lengths).astype(str),
            "token_index": _concat(text_scores.token_index, np.int64),
            "token_id": _concat(text_scores.token_id, np.int64),
            "logprob": _concat(text_scores.logprob, np.float64),
            "correct": _concat(text_scores.correct, bool),
        }
        if kl is not None and name in kl:
            columns["kl"] = _concat(kl[name], np.float64)
        frames.append(pl.DataFrame(columns))
    tokens = (
        pl.concat(frames, how="diagonal")
        if frames
        else pl.DataFrame(
            schema={
                "set": pl.String,
                "text_id": pl.String,
                "token_index": pl.Int64,
                "token_id": pl.Int64,
                "logprob": pl.Float64,
                "correct": pl.Boolean,
            }
        )
    )
    tokens.write_parquet(out_dir / TOKENS_FILE)
    rows = [
        {"set": name, "item_id": str(data.stereoset[i]["id"]), "score": float(v)}
        for name, values in scores.sentence_scores.items()
        for i, v in enumerate(values)
    ]
    for key, values in sorted(scores.convention_scores.items()):
        ids = _item_ids(data, CONVENTIONS.get(key.rsplit(".", 1)[0]).metric)
        rows += [{"set": f"{CONVENTION_SET}{key}", "item_id": i, "score": float(v)} for i, v in zip(ids, values)]
    pl.DataFrame(rows, schema={"set": pl.String, "item_id": pl.String, "score": pl.Float64}).write_parquet(
        out_dir / SENTENCES_FILE
    )


def _item_ids(data: EvaluationData, metric: str) -> list[str]:
    """The ids of a metric's items, in scoring order: StereoSet clusters or the pairs of a pair set."""
    records = data.stereoset if metric == STEREOSET else data.pairs[metric]
    return [str(r["id"]) for r in records]


def _read_convention_scores(sentences: pl.DataFrame, data: EvaluationData, path: Path) -> dict[str, np.ndarray]:
    """The extra-pass conventions' scores stored beside the StereoSet scores, per item in scoring order, for the
    item groups in `data` (a convention of a group not loaded is skipped)."""
    out: dict[str, np.ndarray] = {}
    part = sentences.filter(pl.col("set").str.starts_with(CONVENTION_SET))
    for (name,), rows in part.group_by("set", maintain_order=True):
        key = str(name)[len(CONVENTION_SET) :]
        metric = CONVENTIONS.get(key.rsplit(".", 1)[0]).metric
        if not (bool(data.stereoset) if metric == STEREOSET else metric in data.pairs):
            continue
        out[key] = _in_item_order(rows, _item_ids(data, metric), f"{path}: scores of convention set '{key}'")
    return out


def _in_item_order(rows: pl.DataFrame, item_ids: list[str], what: str) -> np.ndarray:
    """`rows`' scores (item_id, score) in the order of `item_ids`; rows that are not exactly those items raise
    DataError naming `what`."""
    order = {item: i for i, item in enumerate(item_ids)}
    if rows.height != len(order) or set(rows["item_id"].to_list()) != set(order):
        raise DataError(f"{what} do not match the probe file")
    values = np.zeros(len(order))
    for item_id, score in zip(rows["item_id"].to_list(), rows["score"].to_list()):
        values[order[item_id]] = score
    return values


def _needs_of(scores: ModelScores) -> list[str]:
    needs = [HELDOUT] if HELDOUT in scores.token_sets else []
    return needs + [pair_requirement(p) for p in PAIR_SETS if f"{p}.stereo" in scores.token_sets]


def _concat(arrays: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype)


def read_scores(scores_dir: str | Path, kind: str, data: EvaluationData, needs: set[str]) -> ModelScores:
    """Rebuild the needed score sets from a scores directory; a missing set or text raises DataError."""
    scores_dir = Path(scores_dir)
    path = scores_dir / TOKENS_FILE
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    tokens = pl.read_parquet(path)
    scores = ModelScores(kind=kind)
    for name, (ids, _) in token_set_texts(data, needs).items():
        part = tokens.filter(pl.col("set") == name)
        if part.height == 0 and ids:
            raise DataError(f"{path}: no scores for set '{name}'; rerun evaluate_base")
        grouped = {key[0]: frame for key, frame in part.group_by("text_id", maintain_order=True)}
        text_scores = TextScores([], [], [], [])
        for text_id in ids:
            frame = grouped.get(text_id)
            if frame is None:  # a text with no scored token (empty after tokenisation) has no rows
                frame = part.clear()
            text_scores.token_index.append(frame["token_index"].to_numpy().astype(np.int64))
            text_scores.token_id.append(frame["token_id"].to_numpy().astype(np.int64))
            text_scores.logprob.append(frame["logprob"].to_numpy().astype(np.float64))
            text_scores.correct.append(frame["correct"].to_numpy().astype(bool))
        scores.token_sets[name] = text_scores
    sentences_path = scores_dir / SENTENCES_FILE
    if not sentences_path.is_file() and STEREOSET not in needs:
        return scores
    sentences = pl.read_parquet(sentences_path)  # read once: StereoSet's and the extra-pass conventions' scores
    scores.convention_scores = _read_convention_scores(sentences, data, sentences_path)
    if STEREOSET in needs:
        ids = _item_ids(data, STEREOSET)
        for candidate in STEREOSET_CANDIDATES:
            part = sentences.filter(pl.col("set") == f"stereoset.{candidate}")
            what = f"{sentences_path}: StereoSet scores"
            scores.sentence_scores[f"stereoset.{candidate}"] = _in_item_order(part, ids, what)
    return scores


def check_base_consistency(stored: ModelScores, recomputed: ModelScores, tolerance: float = 1e-4) -> None:
    """The joint pass recomputes the base scores; they must agree with the stored ones (else stale files)."""
    for name, fresh in recomputed.token_sets.items():
        old = stored.token_sets[name]
        for i, (a, b) in enumerate(zip(old.logprob, fresh.logprob)):
            if a.shape != b.shape or (a.size and float(np.abs(a - b).max()) > tolerance):
                raise DataError(
                    f"base scores of set '{name}' text {i} differ from the base model's; "
                    "the base scores are stale: rerun evaluate_base"
                )
