"""The debiasing corpus (unaugmented), the stereotype training pairs and the CDA word pairs.

- `source.jsonl`: `n_general` pretraining-text chunks that contain a gendered word (the same chunks the toy
  was pretrained on, as bias-bench debiases on text of the pretraining domain), optionally also drawn from a
  user-supplied `extra_corpus` (for paper scale: WikiText-2 valid has only ~1,500 such chunks), plus
  `n_planted` planted sentences, shuffled with the seed. Objectives augment it (e.g. CDA) at training time.
- `pairs.jsonl`: training-template pairs (planted) + the WinoBias DEV pro/anti pairs that name training-side
  occupations only (fairforget.data.occupations); WinoBias test is never used.
- `word_pairs.json`: {"word_lists": [...], "pairs": [[male, female], ...]} for CDA (fairforget.data.cda).
Any record whose sentence equals an evaluation sentence, or shares a word 8-gram with a bias-bearing one
(fairforget.data.leakage), is dropped and counted in meta.json.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fairforget.data.cda import DEFAULT_WORD_LISTS, contains_gendered_word, load_word_pairs
from fairforget.data.general import wikitext_examples
from fairforget.data.leakage import EvaluationFiles, EvaluationIndex, as_index
from fairforget.data.occupations import OccupationSplit
from fairforget.data.probes import load_winobias_split
from fairforget.data.settings import get_int, get_str_list, seeded_subset
from fairforget.errors import ConfigError
from fairforget.io import iter_jsonl, read_jsonl, write_json, write_jsonl

log = logging.getLogger(__name__)


def read_extra_corpus(path: str | Path, min_words: int, max_words: int) -> list[dict[str, Any]]:
    """A user corpus for the debiasing text: JSONL text records ({"id", "text"}), or plain text with one
    paragraph per line (chunked like WikiText-2, ids `extra-{k:06d}`)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_jsonl(path, required=("id", "text"))
    chunks = wikitext_examples(path, "extra", min_words, max_words)
    return [{**r, "id": r["id"].replace("wikitext-extra", "extra")} for r in chunks]


def _draw(records: list[dict[str, Any]], n: int, seed: int, salt: str, key: str) -> list[dict[str, Any]]:
    if n > len(records):
        raise ConfigError(
            f"config key '{key}': asks for {n} examples but only {len(records)} are available"
            + (
                " (raise data.general.pretrain_max_examples or set data.debias.extra_corpus)"
                if key.endswith("n_general")
                else " (raise data.planted_stereotype.n_sentences)"
            )
        )
    return seeded_subset(records, n, seed, salt)


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
    extra_corpus: str | Path | None = None,
    chunk_words: tuple[int, int] = (8, 64),
) -> dict[str, Any]:
    """Write source.jsonl, pairs.jsonl, word_pairs.json and meta.json (see the module docstring).

    `extra_corpus`: the file named by `data.debias.extra_corpus` (None: pretraining text only);
    `chunk_words`: (min_words, max_words) of data.general, used to chunk a plain-text extra corpus.
    """
    key = "data.debias"
    evaluation = as_index(evaluation)
    n_general = get_int(settings, "n_general", key, minimum=0)
    n_planted = get_int(settings, "n_planted", key, minimum=0)
    if n_general + n_planted == 0:
        raise ConfigError(f"config keys '{key}.n_general' and '{key}.n_planted' are both 0: the corpus would be empty")
    names = get_str_list(settings, "word_lists", key, default=list(DEFAULT_WORD_LISTS))
    word_pairs = load_word_pairs(names, cda_dir)

    candidates = read_jsonl(pretrain_jsonl, required=("id", "text"))
    if extra_corpus is not None:
        candidates += read_extra_corpus(extra_corpus, *chunk_words)
    gendered = [r for r in candidates if contains_gendered_word(r["text"], word_pairs)]
    gendered, general_dropped = evaluation.without_leaks(gendered)
    general = _draw(gendered, n_general, seed, "debias-general", f"{key}.n_general")
    # an empty planted corpus is valid (n_sentences 0 at paper scale)
    planted_records = list(iter_jsonl(planted_jsonl, required=("id", "text")))
    planted_all, planted_dropped = evaluation.without_leaks(planted_records)
    planted = _draw(planted_all, n_planted, seed, "debias-planted", f"{key}.n_planted")
    source = [{"id": r["id"], "text": r["text"], "origin": "general"} for r in general] + [
        {"id": r["id"], "text": r["text"], "origin": "planted"} for r in planted
    ]
    random.Random(f"{seed}:debias-order").shuffle(source)

    skipped: list[str] = []
    template_pairs = read_jsonl(train_pairs_jsonl, required=("id", "stereo", "anti", "bias_type", "source"))
    winobias_dev, winobias_dev_other_side = occupation_split.pairs_on_side(
        load_winobias_split(winobias_dir, "dev", skipped), "training"
    )
    pairs, pairs_dropped = evaluation.without_leaks(template_pairs + winobias_dev)

    write_jsonl(source_out, source)
    write_jsonl(pairs_out, pairs)
    write_json(
        word_pairs_out,
        {
            "word_lists": names,
            "pairs": [list(p) for p in word_pairs],
            "swap_rule": "bias-bench: later pairs win for words in several pairs",
        },
    )
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
        "extra_corpus": str(extra_corpus) if extra_corpus is not None else None,
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
    write_json(meta_out, meta)
    log.info(
        "debias corpus: %d general + %d planted sentences; %d pairs (dropped as evaluation overlap: %s)",
        len(general),
        len(planted),
        len(pairs),
        pairs_dropped,
    )
    return meta
