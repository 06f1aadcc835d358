"""Counterfactual data augmentation (CDA) for gender: swap gendered words in both directions.

Swap rule (the bias-bench rule, Meade et al. 2022): each word pair [male, female] maps male -> female and
female -> male; when a word occurs in several pairs, the LAST pair in list order wins, exactly as bias-bench's
loop over `bias_attribute_words` overwrites earlier matches. With the default list this resolves the
ambiguous words as: "her" -> "his" (pairs [him, her] then [his, her]: object "her" also becomes "his", a
known imprecision of bias-bench's CDA), "girl" -> "guy", "lady" -> "lord", "guy" -> "girl", "sir" -> "miss",
"mr." -> "ms.". The swap is simultaneous (one pass), so "he" -> "she" is never swapped back.

Matching is case-insensitive and whole-word: a word is matched only when it is not preceded or followed by a
letter, digit, underscore or hyphen ("manage" and "woman-made" keep "man"; "hers" is not "her"). A trailing
possessive or contraction is kept ("man's" -> "woman's", "he'd" -> "she'd"); punctuation is untouched.
Case follows the original word: "HE" -> "SHE", "He" -> "She", "he" -> "she".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from fairforget.errors import ConfigError, DataError

WordPairs = tuple[tuple[str, str], ...]  # (male, female), lower case

#: Named word lists shipped in resources/data/cda_word_lists: name -> (file, JSON key or None,
#: whether entries are [female, male] and need flipping). All hold [male, female] pairs otherwise.
WORD_LISTS: dict[str, tuple[str, str | None, bool]] = {
    "bias_attribute_words": ("bias_attribute_words.json", "gender", False),
    "debiaswe_definitional_pairs": ("debiaswe_definitional_pairs.json", None, True),
    "debiaswe_equalize_pairs": ("debiaswe_equalize_pairs.json", None, False),
    "cds_cda_default_pairs": ("cds_cda_default_pairs.json", None, False),
    "cds_names_pairs_1000_scaled": ("cds_names_pairs_1000_scaled.json", None, False),
}
DEFAULT_WORD_LISTS = ("bias_attribute_words",)


def word_list_files(names: Sequence[str], cda_dir: str | Path) -> list[Path]:
    """The shipped files behind the named word lists (unknown names raise ConfigError)."""
    files = []
    for name in names:
        if name not in WORD_LISTS:
            raise ConfigError(
                f"config key 'data.debias.word_lists': unknown word list {name!r}; "
                f"allowed: {', '.join(sorted(WORD_LISTS))}"
            )
        files.append(Path(cda_dir) / WORD_LISTS[name][0])
    return files


def _load_one(name: str, path: Path) -> list[tuple[str, str]]:
    _, key, flip = WORD_LISTS[name]
    if not path.is_file():
        raise DataError(f"{path}: word list file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not valid UTF-8") from err
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from err
    if key is not None:
        if not isinstance(data, dict) or key not in data:
            raise DataError(f"{path}: expected a JSON object with key {key!r}")
        data = data[key]
    if not isinstance(data, list) or not data:
        raise DataError(f"{path}: expected a non-empty list of word pairs")
    pairs = []
    for index, entry in enumerate(data):
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(w, str) and w.strip() for w in entry)):
            raise DataError(f"{path}: entry {index} is not a pair of two words: {entry!r}")
        # debiaswe writes multi-word entries with underscores ("prostate_cancer")
        first, second = (w.strip().lower().replace("_", " ") for w in entry)
        pairs.append((second, first) if flip else (first, second))
    return pairs


def load_word_pairs(names: Sequence[str] = DEFAULT_WORD_LISTS, cda_dir: str | Path | None = None) -> WordPairs:
    """Concatenate the named lists ([male, female] pairs, lower case) in the given order."""
    if cda_dir is None:
        from fairforget.data.resources import resources_dir

        cda_dir = resources_dir() / "cda_word_lists"
    pairs: list[tuple[str, str]] = []
    for name, path in zip(names, word_list_files(names, cda_dir), strict=True):
        pairs.extend(_load_one(name, path))
    return tuple(pairs)


def read_word_pairs_json(path: str | Path) -> WordPairs:
    """Read `R/data/debias/word_pairs.json` (written by the data stage) back into pairs."""
    from fairforget.io import read_json

    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
        raise DataError(f"{path}: expected a JSON object with a 'pairs' list")
    pairs = []
    for index, entry in enumerate(data["pairs"]):
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(w, str) and w for w in entry)):
            raise DataError(f"{path}: pairs[{index}] is not a pair of two words: {entry!r}")
        pairs.append((entry[0].lower(), entry[1].lower()))
    if not pairs:
        raise DataError(f"{path}: 'pairs' is empty")
    return tuple(pairs)


def swap_map(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """word -> counterpart; later pairs overwrite earlier ones (the bias-bench rule, see module docstring)."""
    mapping: dict[str, str] = {}
    for male, female in pairs:
        male, female = male.lower(), female.lower()
        if male == female:
            continue
        mapping[male] = female
        mapping[female] = male
    return mapping


@lru_cache(maxsize=16)
def _compiled(pairs: WordPairs) -> tuple[re.Pattern[str], dict[str, str]]:
    mapping = swap_map(pairs)
    if not mapping:
        raise DataError("the gender word list is empty: nothing to swap")
    # longest first so "businessman" is tried before "man" (the boundaries make this belt and braces)
    alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(mapping, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)
    return pattern, mapping


def _match_case(source: str, target: str) -> str:
    if len(source) > 1 and source.isupper():
        return target.upper()
    if source[:1].isupper():
        return target[:1].upper() + target[1:]
    return target


def as_word_pairs(pairs: Iterable[tuple[str, str]]) -> WordPairs:
    """Word pairs as the lower-cased tuple the swaps are compiled from (and objectives fingerprint)."""
    return tuple((m.lower(), f.lower()) for m, f in pairs)


def contains_gendered_word(text: str, pairs: Iterable[tuple[str, str]]) -> bool:
    pattern, _ = _compiled(as_word_pairs(pairs))
    return pattern.search(text) is not None


def swap_gender(text: str, pairs: Iterable[tuple[str, str]]) -> str:
    """The counterfactual of `text`: every gendered word replaced by its counterpart (rules in module docstring)."""
    pattern, mapping = _compiled(as_word_pairs(pairs))

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        key = re.sub(r"\s+", " ", word.lower())
        return _match_case(word, mapping[key])

    return pattern.sub(replace, text)


def augment(
    texts: Sequence[str | dict[str, Any]],
    pairs: Iterable[tuple[str, str]],
    sided: Literal["two", "one"] = "two",
    keep_ungendered: bool = True,
) -> list[dict[str, Any]]:
    """Counterfactually augment a corpus.

    Only texts that contain a gendered word are swapped. `sided="two"` keeps the original and adds its swap
    (Zmigrod et al. 2019; bias-bench); `sided="one"` keeps only the swap in place of the original (one-sided
    CDA as in Webster et al. 2020). Texts without a gendered word are kept unchanged when `keep_ungendered`
    (they are plain LM data), else dropped (bias-bench drops them).

    `texts`: strings or records with "id" and "text". Returns records
    {"id", "text", "source_id", "counterfactual": bool}; a swap's id is the source id + ":cda".
    """
    check_sided(sided)
    pair_tuple = as_word_pairs(pairs)
    out: list[dict[str, Any]] = []
    for index, item in enumerate(texts):
        if isinstance(item, str):
            source_id, text = f"text-{index:06d}", item
        else:
            source_id, text = str(item["id"]), item["text"]
        out.extend(augmented_records(source_id, text, pair_tuple, sided, keep_ungendered))
    return out


def check_sided(sided: str) -> None:
    """ConfigError unless `sided` is "two" or "one"."""
    if sided not in ("two", "one"):
        raise ConfigError(f"CDA 'sided' must be 'two' or 'one', got {sided!r}")


def augmented_records(
    source_id: str, text: str, pairs: WordPairs, sided: str, keep_ungendered: bool
) -> list[dict[str, Any]]:
    """The records `augment` makes of one text."""
    original = {"id": source_id, "text": text, "source_id": source_id, "counterfactual": False}
    if not contains_gendered_word(text, pairs):
        return [original] if keep_ungendered else []
    swapped = {
        "id": f"{source_id}:cda",
        "text": swap_gender(text, pairs),
        "source_id": source_id,
        "counterfactual": True,
    }
    return [original, swapped] if sided == "two" else [swapped]


def gendered_batch(texts: list[str], pairs: WordPairs) -> list[bool]:
    """`Dataset.filter` (batched, input column text) body: which texts mention a gendered word."""
    pattern, _ = _compiled(as_word_pairs(pairs))
    return [pattern.search(text) is not None for text in texts]
