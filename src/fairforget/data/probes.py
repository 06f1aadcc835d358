"""Evaluation-only probe sets: CrowS-Pairs, WinoBias test pro/anti pairs (evaluation-side occupations only),
StereoSet intrasentence.

Pair records follow docs/ARCHITECTURE.md: {"id", "stereo", "anti", "bias_type", "source"} (+ extra fields).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairforget.data.hub_benchmarks import (
    crows_pair_record,
    crows_pairs_from_hub,
    hub_source,
    stereoset_from_hub,
    stereoset_record,
)
from fairforget.data.occupations import OccupationSplit
from fairforget.data.settings import get_int, get_str_list, seeded_subset
from fairforget.data.textfiles import read_lines
from fairforget.errors import DataError
from fairforget.hashing import sha256_file
from fairforget.io import json_record, write_json, write_jsonl

log = logging.getLogger(__name__)

CROWS_COLUMNS = ("sent_more", "sent_less", "stereo_antistereo", "bias_type")
STEREOSET_FIELDS = ("type", "target", "bias_type", "context", "stereotype", "anti-stereotype", "unrelated")
GENDER_PRONOUNS = frozenset({"he", "she", "him", "her", "his", "hers", "himself", "herself"})
_WINOBIAS_LINE = re.compile(r"^\s*(\d+)\s+(\S.*)$")
_BRACKETED = re.compile(r"\[([^\[\]]*)\]")


def load_crows_pairs(path: str | Path, bias_types: Sequence[str]) -> list[dict[str, Any]]:
    """CrowS-Pairs rows of the given bias types as pair records: stereo = sent_more, anti = sent_less.

    `direction` keeps the file's `stereo_antistereo` field ("stereo" or "antistereo": whether sent_more is the
    stereotype or the violated anti-stereotype). A pair whose two sentences are identical is an error.
    """
    path = Path(path)
    lines = read_lines(path)
    reader = csv.reader(lines)
    header = next(reader)
    missing = [c for c in CROWS_COLUMNS if c not in header]
    if missing:
        raise DataError(f"{path}:1: missing column(s) {', '.join(missing)}")
    index = {name: header.index(name) for name in header}
    records = []
    for row in reader:
        line = reader.line_num  # physical line where this row ends (rows may span lines in quoted fields)
        if not row or not any(field.strip() for field in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{path}:{line}: expected {len(header)} columns, found {len(row)}")
        row_id = row[0] if header[0] == "" else str(line)
        more, less = row[index["sent_more"]].strip(), row[index["sent_less"]].strip()
        bias_type, direction = row[index["bias_type"]], row[index["stereo_antistereo"]]
        record = crows_pair_record(row_id, more, less, bias_type, direction, f"{path}:{line}: row {row_id}")
        if bias_type in bias_types:
            records.append(record)
    if not records:
        raise DataError(f"{path}: no rows with bias_type in {list(bias_types)}")
    return records


#: Upstream WinoBias defects: in these (anti file, line) pairs the pro and anti sentences differ beyond the
#: pronouns (typos such as "wait [her] to tips", rewordings such as "needed a desk." / "needed one.", and two
#: test lines that are different sentences altogether). They are left out of the pair sets and listed in the
#: probes meta.json; any other misalignment is an error. Valid for the shipped files (resources/SHA256SUMS).
KNOWN_MISALIGNED: frozenset[tuple[str, int]] = frozenset(
    {
        ("anti_stereotyped_type1.txt.dev", 92),
        ("anti_stereotyped_type1.txt.dev", 212),
        ("anti_stereotyped_type1.txt.test", 157),
        ("anti_stereotyped_type1.txt.test", 255),
        ("anti_stereotyped_type1.txt.test", 279),
        ("anti_stereotyped_type1.txt.test", 289),
        ("anti_stereotyped_type1.txt.test", 296),
        ("anti_stereotyped_type2.txt.dev", 90),
        ("anti_stereotyped_type2.txt.dev", 102),
        ("anti_stereotyped_type2.txt.dev", 119),
        ("anti_stereotyped_type2.txt.dev", 176),
        ("anti_stereotyped_type2.txt.dev", 190),
        ("anti_stereotyped_type2.txt.dev", 207),
        ("anti_stereotyped_type2.txt.dev", 208),
        ("anti_stereotyped_type2.txt.dev", 209),
        ("anti_stereotyped_type2.txt.dev", 215),
        ("anti_stereotyped_type2.txt.test", 92),
        ("anti_stereotyped_type2.txt.test", 103),
        ("anti_stereotyped_type2.txt.test", 307),
        ("anti_stereotyped_type2.txt.test", 382),
        ("anti_stereotyped_type2.txt.test", 384),
    }
)


@dataclass(frozen=True)
class WinoBiasLine:
    number: int
    text: str  # brackets removed, whitespace collapsed
    pronouns: tuple[str, ...]  # the bracketed gendered-pronoun mentions, lower case, in order
    template: str  # text with each pronoun mention replaced by a placeholder, for alignment checks


def parse_winobias_line(line: str, path: str | Path, line_number: int) -> WinoBiasLine:
    """`12 [The chief] hired the assistant because [he] needed help.` -> number, plain text, pronouns."""
    match = _WINOBIAS_LINE.match(line)
    if not match:
        raise DataError(f"{path}:{line_number}: expected '<number> <sentence>', found {line!r}")
    body = match.group(2).strip()
    pronouns: list[str] = []

    def placeholder(span: re.Match[str]) -> str:
        word = span.group(1).strip()
        if word.lower() in GENDER_PRONOUNS:
            pronouns.append(word.lower())
            return "\x00"
        return span.group(1)

    template = re.sub(r"\s+", " ", _BRACKETED.sub(placeholder, body)).strip()
    if not pronouns:
        raise DataError(f"{path}:{line_number}: no [bracketed] gendered pronoun in {body!r}")
    text = re.sub(r"\s+", " ", _BRACKETED.sub(lambda m: m.group(1).strip(), body)).strip()
    return WinoBiasLine(int(match.group(1)), text, tuple(pronouns), template)


def load_winobias_pairs(
    pro_path: str | Path, anti_path: str | Path, split: str, type_id: int, skipped: list[str] | None = None
) -> list[dict[str, Any]]:
    """Line-aligned pro-/anti-stereotypical WinoBias sentences as pair records (stereo = pro).

    The two lines of a pair must carry the same number and differ only in the bracketed pronoun mentions,
    which must differ; otherwise DataError naming the anti file and line, except for the upstream defects in
    KNOWN_MISALIGNED, which are skipped and appended to `skipped` as "file:line".
    """
    pro_lines, anti_lines = read_lines(pro_path), read_lines(anti_path)
    pro_items = [(n, line) for n, line in enumerate(pro_lines, start=1) if line.strip()]
    anti_items = [(n, line) for n, line in enumerate(anti_lines, start=1) if line.strip()]
    if len(pro_items) != len(anti_items):
        raise DataError(
            f"{anti_path}: {len(anti_items)} sentences but {pro_path} has {len(pro_items)}; "
            "the files must be aligned line by line"
        )
    records = []
    for (pro_n, pro_line), (anti_n, anti_line) in zip(pro_items, anti_items, strict=True):
        pro = parse_winobias_line(pro_line, pro_path, pro_n)
        anti = parse_winobias_line(anti_line, anti_path, anti_n)
        where = f"{anti_path}:{anti_n} (vs {pro_path}:{pro_n})"
        if pro.number != anti.number:
            raise DataError(f"{where}: sentence numbers differ ({anti.number} vs {pro.number})")
        if (Path(anti_path).name, anti_n) in KNOWN_MISALIGNED:
            if skipped is not None:
                skipped.append(f"{Path(anti_path).name}:{anti_n}")
            continue
        if pro.template != anti.template:
            raise DataError(f"{where}: the pro and anti sentences differ outside the pronoun span")
        if pro.pronouns == anti.pronouns:
            raise DataError(f"{where}: the pro and anti sentences are identical")
        records.append(
            {
                "id": f"winobias-{split}-type{type_id}-{pro.number:03d}",
                "stereo": pro.text,
                "anti": anti.text,
                "bias_type": "gender",
                "source": f"winobias_{split}",
                "type": type_id,
                "pronouns_stereo": list(pro.pronouns),
                "pronouns_anti": list(anti.pronouns),
            }
        )
    return records


def load_stereoset_intrasentence(path: str | Path, bias_types: Sequence[str]) -> list[dict[str, Any]]:
    """StereoSet intrasentence examples of the given bias types (the file has no ids: id = source line)."""
    records = []
    for line_number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        raw = json_record(path, line_number, line, STEREOSET_FIELDS)
        if raw["type"] != "intrasentence" or raw["bias_type"] not in bias_types:
            continue
        sentences = [raw["stereotype"], raw["anti-stereotype"], raw["unrelated"]]
        if len(set(sentences)) != 3:
            raise DataError(f"{path}:{line_number}: the three candidate sentences are not all different")
        records.append(stereoset_record(f"{line_number:05d}", raw))
    if not records:
        raise DataError(f"{path}: no intrasentence rows with bias_type in {list(bias_types)}")
    return records


def winobias_files(winobias_dir: str | Path, split: str) -> list[Path]:
    """The four files of one split: pro/anti for type 1, then pro/anti for type 2."""
    return [
        Path(winobias_dir) / f"{side}_stereotyped_type{type_id}.txt.{split}"
        for type_id in (1, 2)
        for side in ("pro", "anti")
    ]


def load_winobias_split(winobias_dir: str | Path, split: str, skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """Both WinoBias types of one split ("dev" or "test")."""
    files = winobias_files(winobias_dir, split)
    records = []
    for type_id, (pro, anti) in ((1, files[0:2]), (2, files[2:4])):
        records += load_winobias_pairs(pro, anti, split, type_id, skipped)
    return records


def _probe_records(
    settings: Mapping[str, Any], name: str, key: str, shipped: str | Path, bias_types: Sequence[str]
) -> tuple[list[dict[str, Any]], str | Path | dict[str, Any]]:
    """A probe set's records and its source (the shipped file, or the Hub source `data.probes.<name>` names)."""
    hub = hub_source(settings, name, key)
    crows = name == "crows_pairs_source"
    if hub is None:
        return (load_crows_pairs if crows else load_stereoset_intrasentence)(shipped, bias_types), shipped
    return (crows_pairs_from_hub if crows else stereoset_from_hub)(hub, bias_types, f"{key}.{name}"), dict(hub)


def prepare_probes(
    crows_csv: str | Path,
    stereoset_jsonl: str | Path,
    winobias_dir: str | Path,
    crows_out: str | Path,
    winobias_out: str | Path,
    stereoset_out: str | Path,
    meta_out: str | Path,
    settings: Mapping[str, Any],
    seed: int,
    occupation_split: OccupationSplit,
) -> dict[str, Any]:
    """Write the three evaluation probe sets, each capped by a seeded sample of `data.probes.max_pairs`.

    WinoBias test keeps only the pairs naming evaluation-side occupations of `occupation_split` (Zhao et al.
    2018's occupations, split so that none is used for training; fairforget.data.occupations).
    """
    key = "data.probes"
    crows_types = get_str_list(settings, "crows_pairs_bias_types", key, default=["gender"])
    stereoset_types = get_str_list(settings, "stereoset_bias_types", key, default=["gender"])
    cap = get_int(settings, "max_pairs", key, default=None, minimum=1, optional=True)
    skipped: list[str] = []
    winobias, winobias_other_side = occupation_split.pairs_on_side(
        load_winobias_split(winobias_dir, "test", skipped), "evaluation"
    )
    if not winobias:
        raise DataError(
            f"{winobias_dir}: no WinoBias test pair names evaluation-side occupations only "
            f"(config key 'data.occupation_split')"
        )
    sets = {
        "crows_pairs": (
            *_probe_records(settings, "crows_pairs_source", key, crows_csv, crows_types),
            crows_out,
        ),
        "winobias": (winobias, None, winobias_out),
        "stereoset": (
            *_probe_records(settings, "stereoset_source", key, stereoset_jsonl, stereoset_types),
            stereoset_out,
        ),
    }
    meta: dict[str, Any] = {"seed": seed, "max_pairs": cap}
    for name, (records, source, out) in sets.items():
        chosen = seeded_subset(records, cap, seed, name)
        write_jsonl(out, chosen)
        meta[name] = {"n_available": len(records), "n": len(chosen)}
        if isinstance(source, dict):
            meta[name]["source_hub"] = source
        elif source is not None:
            meta[name]["source_sha256"] = sha256_file(source)
        log.info("%s: %d of %d probe items", name, len(chosen), len(records))
    meta["crows_pairs"]["bias_types"] = crows_types
    meta["stereoset"]["bias_types"] = stereoset_types
    meta["winobias"]["skipped_misaligned"] = skipped
    meta["winobias"]["n_left_out_training_side_occupation"] = winobias_other_side
    meta["occupation_split"] = occupation_split.record()
    write_json(meta_out, meta)
    return meta
