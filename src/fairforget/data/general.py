"""General (non-stereotype) text from WikiText-2 raw: pretraining / replay text and held-out text.

WikiText-2 valid (`wiki.valid.raw`) is the pretraining text and WikiText-2 test (`wiki.test.raw`) the
held-out text used to measure overall forgetting; the two files never mix. WikiText-2 train is not shipped
(see resources/data/wikitext2/SOURCE.md).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fairforget.data.settings import get_int, seeded_subset
from fairforget.data.textfiles import read_lines
from fairforget.errors import ConfigError
from fairforget.hashing import sha256_file
from fairforget.io import write_json, write_jsonl

log = logging.getLogger(__name__)

HEADING = re.compile(r"^\s*=+\s.*\s=+\s*$")
# A sentence ends at . ! ? followed by space and a capital, digit, quote or bracket. Approximate: an
# abbreviation such as "U.S. Army" also ends a sentence; chunks are then simply a little shorter.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")


def split_sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph.strip()) if s.strip()]


def chunk_paragraph(paragraph: str, min_words: int, max_words: int) -> list[str]:
    """Pack consecutive sentences into chunks of at most `max_words` words; a longer sentence is cut into
    `max_words` windows. Chunks shorter than `min_words` are dropped."""
    chunks: list[list[str]] = []
    current: list[str] = []
    for sentence in split_sentences(paragraph):
        words = sentence.split()
        if len(current) + len(words) <= max_words:
            current.extend(words)
            continue
        if current:
            chunks.append(current)
        while len(words) > max_words:
            chunks.append(words[:max_words])
            words = words[max_words:]
        current = list(words)
    if current:
        chunks.append(current)
    return [" ".join(c) for c in chunks if len(c) >= min_words]


def wikitext_examples(path: str | Path, split: str, min_words: int, max_words: int) -> list[dict[str, Any]]:
    """Text records from a WikiText raw file: blank lines and `= Heading =` lines skipped, paragraphs split
    into sentence chunks. Ids are stable for fixed word limits: `wikitext-{split}-{k:06d}` for the k-th chunk
    of the file; `line` is the 1-based source line."""
    if not 1 <= min_words <= max_words:
        raise ConfigError(
            f"config keys 'data.general.min_words'/'max_words': need 1 <= min_words <= max_words, "
            f"got {min_words}, {max_words}"
        )
    lines = read_lines(path)
    records: list[dict[str, Any]] = []
    for line_number, line in enumerate(
        tqdm(lines, desc=f"chunk {Path(path).name}", disable=not sys.stderr.isatty()), start=1
    ):
        if not line.strip() or HEADING.match(line):
            continue
        for text in chunk_paragraph(line, min_words, max_words):
            records.append({"id": f"wikitext-{split}-{len(records):06d}", "text": text, "line": line_number})
    return records


def prepare_general(
    valid_raw: str | Path,
    test_raw: str | Path,
    pretrain_out: str | Path,
    heldout_out: str | Path,
    meta_out: str | Path,
    settings: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Write `pretrain.jsonl` (from WikiText-2 valid) and `heldout.jsonl` (from WikiText-2 test).

    Each is capped by a seeded sample (`data.general.pretrain_max_examples` / `heldout_max_examples`, null =
    all) kept in file order; `meta.json` records the sizes, the seed and the source checksums.
    """
    key = "data.general"
    min_words = get_int(settings, "min_words", key, default=8, minimum=1)
    max_words = get_int(settings, "max_words", key, default=64, minimum=1)
    pretrain_cap = get_int(settings, "pretrain_max_examples", key, default=None, minimum=1, optional=True)
    heldout_cap = get_int(settings, "heldout_max_examples", key, default=None, minimum=1, optional=True)
    meta: dict[str, Any] = {"seed": seed, "min_words": min_words, "max_words": max_words}
    for name, source, out, cap, split in (
        ("pretrain", valid_raw, pretrain_out, pretrain_cap, "valid"),
        ("heldout", test_raw, heldout_out, heldout_cap, "test"),
    ):
        available = wikitext_examples(source, split, min_words, max_words)
        chosen = seeded_subset(available, cap, seed, name)
        write_jsonl(out, chosen)
        meta[name] = {
            "source": Path(source).name,
            "source_sha256": sha256_file(source),
            "n_available": len(available),
            "n": len(chosen),
            "max_examples": cap,
        }
        log.info("%s: %d of %d chunks from %s", name, len(chosen), len(available), source)
    write_json(meta_out, meta)
    return meta
