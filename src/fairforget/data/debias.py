"""The debiasing corpus (unaugmented), the replay text, the stereotype training pairs and the CDA word pairs.

- `source.arrow` (an Arrow text table {id, text, origin}, fairforget.data.texttable): `n_general` chunks (null:
  all) that contain a gendered word, drawn with the seed from the corpus of `data.debias.corpus`
  (fairforget.data.corpus; default: the WikiText-2 pretraining chunks the toy was pretrained on, as bias-bench
  debiases on text of the pretraining domain; at paper scale a Hub dataset such as 10% of English Wikipedia),
  plus `n_planted` planted sentences, shuffled with the seed. Objectives augment it (e.g. CDA) at training time.
  The gendered-word filter and the overlap filter below run as batched `Dataset.map`/`filter` on Arrow data (the
  datasets cache, keyed by fingerprint); the file is written one block at a time and read memory-mapped by the
  training jobs, so memory does not grow with the corpus.
- `replay.arrow` {id, text}: the general text of `data.general.replay_corpus` (default: the WikiText-2
  pretraining chunks) that the `replay` remedy draws from and EWC's Fisher estimate uses, chunked and
  overlap-filtered the same way.
- `pairs.jsonl`: training-template pairs (planted) + the WinoBias DEV pro/anti pairs that name training-side
  occupations only (fairforget.data.occupations); WinoBias test is never used.
- `word_pairs.json`: {"word_lists": [...], "pairs": [[male, female], ...]} for CDA (fairforget.data.cda).
Any record whose sentence equals an evaluation sentence, or shares a word 8-gram with a bias-bearing one
(fairforget.data.leakage), is dropped and counted in meta.json."""

from __future__ import annotations

import hashlib
import logging
import random
from array import array
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairforget.data.cda import DEFAULT_WORD_LISTS, gendered_batch, load_word_pairs
from fairforget.data.corpus import CorpusSpec, load_chunks, parse_corpus, parse_replay_corpus
from fairforget.data.leakage import EvaluationFiles, EvaluationIndex, as_index
from fairforget.data.occupations import OccupationSplit
from fairforget.data.probes import load_winobias_split
from fairforget.data.settings import get_int, get_str_list, seeded_subset
from fairforget.data.texttable import TextTable, write_text_table
from fairforget.errors import ConfigError
from fairforget.io import iter_jsonl, read_jsonl, write_json, write_jsonl

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)

SOURCE_COLUMNS = ("id", "text", "origin")  # columns of source.arrow
REPLAY_COLUMNS = ("id", "text")  # columns of replay.arrow


def source_words(source: str | Path) -> int:
    """Words (whitespace-separated) of the debiasing corpus (`source.arrow`): the token budget `data_sizes`
    fractions cut."""
    return sum(len(r["text"].split()) for r in TextTable(source).records())


def _dataset_records(dataset: Dataset, block: int = 2000) -> Iterator[dict[str, Any]]:
    """The rows of an Arrow dataset, read `block` rows at a time."""
    for start in range(0, len(dataset), block):
        rows = dataset[start : start + block]
        yield from ({"id": i, "text": t} for i, t in zip(rows["id"], rows["text"], strict=True))


def prepare_replay(
    pretrain_jsonl: str | Path,
    general_settings: Mapping[str, Any],
    evaluation: EvaluationIndex,
    replay_out: str | Path,
    num_proc: int = 1,
) -> dict[str, Any]:
    """Write `replay.arrow` {id, text}: the general text of `data.general.replay_corpus` that the `replay` remedy
    mixes in and EWC estimates its Fisher information on (default `wikitext2`: the pretraining chunks, in file
    order). Chunked as the debiasing corpus and without the chunks that overlap the evaluation data (as
    `source.arrow`); written block by block from the memory-mapped Arrow data. Returns its meta.json entry."""
    specs = parse_replay_corpus(general_settings)
    chunk_words = (
        get_int(general_settings, "min_words", "data.general", default=8, minimum=1),
        get_int(general_settings, "max_words", "data.general", default=64, minimum=1),
    )
    chunks, dropped = without_leaks(corpus_chunks(pretrain_jsonl, specs, chunk_words, num_proc), evaluation, num_proc)
    n = write_text_table(replay_out, _dataset_records(chunks), REPLAY_COLUMNS)
    log.info("replay text: %d chunks (dropped as evaluation overlap: %s)", n, dropped)
    return {"corpus": [spec.record() for spec in specs], "n": n, "dropped_as_evaluation_overlap": dropped}


def _check_available(n: int, available: int, key: str) -> None:
    if n > available:
        raise ConfigError(
            f"config key '{key}': asks for {n} examples but only {available} are available"
            + (
                " (raise data.general.pretrain_max_examples, or set data.debias.corpus to a larger corpus)"
                if key.endswith("n_general")
                else " (raise data.planted_stereotype.n_sentences)"
            )
        )


def _draw(records: list[dict[str, Any]], n: int, seed: int, salt: str, key: str) -> list[dict[str, Any]]:
    _check_available(n, len(records), key)
    return seeded_subset(records, n, seed, salt)


def corpus_chunks(
    pretrain_jsonl: str | Path, specs: list[CorpusSpec], chunk_words: tuple[int, int], num_proc: int
) -> Dataset:
    """The chunks {id, text} of every corpus spec, in spec order, as an Arrow dataset.

    `wikitext2` is the pretraining text (the rule's input file, already chunked); every other spec is loaded
    and chunked through `fairforget.data.corpus` (memory-mapped from the datasets cache)."""
    from datasets import Dataset, concatenate_datasets

    parts = []
    for spec in specs:
        if spec.kind == "shipped":
            records = read_jsonl(pretrain_jsonl, required=("id", "text"))
            parts.append(Dataset.from_dict({"id": [r["id"] for r in records], "text": [r["text"] for r in records]}))
        else:
            parts.append(load_chunks(spec, *chunk_words, num_proc=num_proc))
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


def gendered_candidates(
    pretrain_jsonl: str | Path,
    specs: list[CorpusSpec],
    word_pairs: tuple[tuple[str, str], ...],
    chunk_words: tuple[int, int],
    num_proc: int,
) -> Dataset:
    """The chunks of every corpus spec (`corpus_chunks`) that mention a gendered word, as an Arrow dataset
    {id, text}: a batched `Dataset.filter` on `num_proc` processes, cached by the input's fingerprint."""
    chunks = corpus_chunks(pretrain_jsonl, specs, chunk_words, num_proc)
    return chunks.filter(
        gendered_batch,
        batched=True,
        batch_size=1000,
        input_columns=["text"],
        fn_kwargs={"pairs": word_pairs},
        num_proc=_procs(num_proc, len(chunks)),
        desc="gendered chunks",
    )


def _procs(num_proc: int, rows: int) -> int | None:
    """`num_proc` for datasets: None (in process) for one process or a small table."""
    return num_proc if num_proc > 1 and rows >= 1000 * num_proc else None


def _index_digest(index: EvaluationIndex) -> str:
    """A stable fingerprint of the evaluation index (sets iterate in a per-process order, so datasets' own hash
    of the function's arguments would change every run and miss the cache)."""
    digest = hashlib.sha256(str(index.n).encode())
    for item in sorted(index.sentences):
        digest.update(item.encode() + b"\0")
    for gram in sorted(index.bias_ngrams):
        digest.update(" ".join(gram).encode() + b"\1")
    return digest.hexdigest()[:16]


def _leak_batch(texts: list[str], index: EvaluationIndex) -> dict[str, list[str]]:
    return {"leak": [index.leak(t) or "" for t in texts]}


def without_leaks(chunks: Dataset, index: EvaluationIndex, num_proc: int) -> tuple[Dataset, dict[str, int]]:
    """`EvaluationIndex.without_leaks` for an Arrow dataset of {id, text} (batched, `num_proc` processes)."""
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    digest = hashlib.sha256(f"{chunks._fingerprint}:{_index_digest(index)}".encode()).hexdigest()[:16]
    marked = chunks.map(
        _leak_batch,
        batched=True,
        batch_size=1000,
        input_columns=["text"],
        fn_kwargs={"index": index},
        num_proc=_procs(num_proc, len(chunks)),
        new_fingerprint=f"leak-{digest}",
        desc="evaluation overlap",
    )
    # counted on the Arrow column (memory-mapped), not a Python list of every row's reason
    reasons = marked.data.column("leak")
    dropped = {reason: int(pc.sum(pc.equal(reasons, reason)).as_py() or 0) for reason in ("sentence", "ngram")}
    kept = marked.filter(_not_leaked, input_columns=["leak"], batched=True, new_fingerprint=f"kept-{digest}")
    return kept.remove_columns(["leak"]), dropped


def _not_leaked(leaks: list[str]) -> list[bool]:
    return [not leak for leak in leaks]


def _draw_indices(available: int, n: int | None, seed: int, salt: str, key: str) -> list[int] | None:
    """`seeded_subset`'s draw as indices (None: all), so a draw from an Arrow dataset equals the list draw."""
    if n is None:
        return None
    _check_available(n, available, key)
    if n == available:
        return None
    return sorted(random.Random(f"{seed}:{salt}").sample(range(available), n))


def source_records(
    general: Dataset, planted: list[dict[str, Any]], seed: int, block: int = 2000
) -> Iterator[dict[str, Any]]:
    """General then planted records shuffled with the seed, read from Arrow one block at a time.

    The permutation is the one `random.Random(...).shuffle` gives the concatenated list (it depends on the
    length only), so the order equals the in-memory shuffle of the former implementation."""
    n_general = len(general)
    order = array("q", range(n_general + len(planted)))
    random.Random(f"{seed}:debias-order").shuffle(order)
    for start in range(0, len(order), block):
        chunk = order[start : start + block]
        rows = general.select([i for i in chunk if i < n_general]).to_dict()
        picked = iter(zip(rows["id"], rows["text"], strict=True))
        for i in chunk:
            if i < n_general:
                row_id, text = next(picked)
                yield {"id": row_id, "text": text, "origin": "general"}
            else:
                record = planted[i - n_general]
                yield {"id": record["id"], "text": record["text"], "origin": "planted"}


def _corpus_settings(settings: Mapping[str, Any], key: str) -> tuple[Any, int | None, int, list[str]]:
    """The corpus specs, the numbers of general and planted sentences, and the CDA word lists of `data.debias`."""
    specs = parse_corpus(settings, key)
    n_general = get_int(settings, "n_general", key, minimum=0, optional=True)
    n_planted = get_int(settings, "n_planted", key, minimum=0)
    if n_general == 0 and n_planted == 0:
        raise ConfigError(f"config keys '{key}.n_general' and '{key}.n_planted' are both 0: the corpus would be empty")
    names = get_str_list(settings, "word_lists", key, default=list(DEFAULT_WORD_LISTS))
    return specs, n_general, n_planted, names


def _write_word_pairs(path: str | Path, names: list[str], word_pairs: Any) -> None:
    """word_pairs.json: the CDA word lists used and their pairs, with the swap rule they follow."""
    write_json(
        path,
        {
            "word_lists": names,
            "pairs": [list(p) for p in word_pairs],
            "swap_rule": "bias-bench: later pairs win for words in several pairs",
        },
    )


def _winobias_dev_pairs(
    winobias_dir: str | Path, occupation_split: OccupationSplit, skipped: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """The WinoBias dev pairs of training-side occupations (and the count left out as evaluation-side)."""
    return occupation_split.pairs_on_side(load_winobias_split(winobias_dir, "dev", skipped), "training")


def prepare_debias(
    pretrain_jsonl: str | Path,
    planted_jsonl: str | Path,
    train_pairs_jsonl: str | Path,
    winobias_dir: str | Path,
    cda_dir: str | Path,
    evaluation: EvaluationFiles | EvaluationIndex,
    occupation_split: OccupationSplit,
    source_out: str | Path,
    pairs_out: str | Path,
    word_pairs_out: str | Path,
    meta_out: str | Path,
    settings: Mapping[str, Any],
    seed: int,
    chunk_words: tuple[int, int] = (8, 64),
    num_proc: int = 1,
    replay_out: str | Path | None = None,
    general_settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write source.arrow, pairs.jsonl, word_pairs.json, meta.json and (given `replay_out`) replay.arrow from
    `general_settings` (the `data.general` section; see the module docstring).

    `chunk_words`: (min_words, max_words) of data.general, used to chunk every corpus but the shipped one;
    `num_proc`: processes of the batched filters (the rule's threads).
    """
    key = "data.debias"
    evaluation = as_index(evaluation)
    specs, n_general, n_planted, names = _corpus_settings(settings, key)
    word_pairs = load_word_pairs(names, cda_dir)
    gendered_all = gendered_candidates(pretrain_jsonl, specs, word_pairs, chunk_words, num_proc)
    gendered, general_dropped = without_leaks(gendered_all, evaluation, num_proc)
    chosen = _draw_indices(len(gendered), n_general, seed, "debias-general", f"{key}.n_general")
    general = gendered if chosen is None else gendered.select(chosen)
    # an empty planted corpus is valid (n_sentences 0 at paper scale)
    planted_records = list(iter_jsonl(planted_jsonl, required=("id", "text")))
    planted_all, planted_dropped = evaluation.without_leaks(planted_records)
    planted = _draw(planted_all, n_planted, seed, "debias-planted", f"{key}.n_planted")
    skipped: list[str] = []
    template_pairs = read_jsonl(train_pairs_jsonl, required=("id", "stereo", "anti", "bias_type", "source"))
    winobias_dev, winobias_dev_other_side = _winobias_dev_pairs(winobias_dir, occupation_split, skipped)
    pairs, pairs_dropped = evaluation.without_leaks(template_pairs + winobias_dev)

    n_source = write_text_table(source_out, source_records(general, planted, seed), SOURCE_COLUMNS)
    write_jsonl(pairs_out, pairs)
    _write_word_pairs(word_pairs_out, names, word_pairs)
    meta = {
        "seed": seed,
        "n_general": len(general),
        "n_general_gendered_available": len(gendered),
        "n_planted": len(planted),
        "n_pairs_template": len(template_pairs),
        "n_pairs_winobias_dev": len(winobias_dev),
        "n_pairs": len(pairs),
        "word_lists": names,
        "n_word_pairs": len(word_pairs),
        "corpus": [spec.record() for spec in specs],
        "n_source": n_source,
        "n_source_words": source_words(source_out),
        "winobias_dev_skipped_misaligned": skipped,
        "n_winobias_dev_left_out_evaluation_side_occupation": winobias_dev_other_side,
        # by reason: "sentence" = equals an evaluation sentence, "ngram" = shares a word 8-gram with a
        # bias-bearing one (fairforget.data.leakage)
        "dropped_as_evaluation_overlap": {
            "general": general_dropped,
            "planted": planted_dropped,
            "pairs": pairs_dropped,
        },
        "occupation_split": occupation_split.record(),
    }
    if replay_out is not None:
        meta["replay"] = prepare_replay(pretrain_jsonl, general_settings or {}, evaluation, replay_out, num_proc)
    write_json(meta_out, meta)
    log.info(
        "debias corpus: %d general + %d planted sentences; %d pairs (dropped as evaluation overlap: %s)",
        len(general),
        len(planted),
        len(pairs),
        pairs_dropped,
    )
    return meta
