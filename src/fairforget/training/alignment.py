"""Token alignment between a sentence and its counterfactual twin (the gender-swapped sentence): which token
positions of the two correspond, so the counterfactual objectives compare the model's predictions there
(`objectives.counterfactual_consistency`, `objectives.unlikelihood`)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable, Sequence

import torch


def aligned_positions(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int, int]]:
    """Positions (i, j) with a[i] == b[j] in the longest matching blocks (difflib, no junk heuristic).

    For a sentence and its gender-swapped twin this pairs every token outside the swapped words with its
    counterpart, even when a swapped word tokenizes to a different number of pieces.
    """
    matcher = difflib.SequenceMatcher(a=list(a), b=list(b), autojunk=False)
    pairs: list[tuple[int, int]] = []
    for block in matcher.get_matching_blocks():
        pairs.extend((block.a + k, block.b + k) for k in range(block.size))
    return pairs


def unpadded(ids: torch.Tensor, attention_mask: torch.Tensor) -> list[int]:
    return ids[attention_mask.bool()].tolist()


def changed_word_spans(text: str, other: str) -> list[tuple[int, int]]:
    """Character spans of the whitespace-separated words of `text` that have no match in `other` (difflib)."""
    words = [(m.group(), m.span()) for m in re.finditer(r"\S+", text)]
    other_words = [m.group() for m in re.finditer(r"\S+", other)]
    matcher = difflib.SequenceMatcher(a=[w for w, _ in words], b=other_words, autojunk=False)
    kept = {block.a + k for block in matcher.get_matching_blocks() for k in range(block.size)}
    return [span for index, (_, span) in enumerate(words) if index not in kept]


def _touches(offset: Sequence[int], spans: Sequence[tuple[int, int]]) -> bool:
    start, end = int(offset[0]), int(offset[1])
    return end > start and any(start < span_end and end > span_start for span_start, span_end in spans)


def counterfactual_alignment(
    text: str,
    ids: Sequence[int],
    offsets: Sequence[Sequence[int]],
    other: str,
    other_ids: Sequence[int],
    other_offsets: Sequence[Sequence[int]],
) -> list[tuple[int, int]]:
    """Token pairs (i, j) shared by `text` and its counterfactual `other`, outside every changed word.

    Token-level matching alone can pair a sub-word of a swapped word with a piece of its counterpart (byte-BPE
    "man" inside "wo|man"), or a swapped word with its own twin elsewhere in the other text ("the king's
    daughter became queen" -> "the queen's son became king": matching " king" with " king" would leave
    " became" between them unpaired). So the tokens that overlap a word that differs between the two texts
    (`changed_word_spans`) are taken out of the matching before it runs: they can neither pair nor pull the
    alignment of the shared tokens off. `offsets` are the tokens' character spans (`tokenize`'s "offsets").
    """
    changed = changed_word_spans(text, other)
    other_changed = changed_word_spans(other, text)
    # a changed word's tokens become placeholders that match nothing (distinct per side and position)
    keys: list[Hashable] = [("a", k) if _touches(offsets[k], changed) else int(t) for k, t in enumerate(ids)]
    other_keys: list[Hashable] = [
        ("b", k) if _touches(other_offsets[k], other_changed) else int(t) for k, t in enumerate(other_ids)
    ]
    return aligned_positions(keys, other_keys)


def batch_alignments(
    texts: Sequence[str],
    encoded: dict[str, torch.Tensor],
    others: Sequence[str],
    other_encoded: dict[str, torch.Tensor],
) -> list[list[tuple[int, int]]]:
    """`counterfactual_alignment` of row r of `encoded` with row r of `other_encoded`, for r < len(others)."""
    alignments = []
    for r in range(len(others)):
        keep = encoded["attention_mask"][r].bool()
        other_keep = other_encoded["attention_mask"][r].bool()
        alignments.append(
            counterfactual_alignment(
                texts[r],
                encoded["input_ids"][r][keep].tolist(),
                encoded["offsets"][r][keep].tolist(),
                others[r],
                other_encoded["input_ids"][r][other_keep].tolist(),
                other_encoded["offsets"][r][other_keep].tolist(),
            )
        )
    return alignments
