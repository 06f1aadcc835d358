"""The WinoBias occupations and their seeded, disjoint split into a training side and an evaluation side.

WinoBias (Zhao et al. 2018) measures whether a model resolves a pronoun to an occupation by its gender
stereotype. A model that was trained on the same occupations in a gendered context (the toy's planted corpus,
WinoBias dev pairs used by the debiasing objectives) would be scored on associations it was taught directly,
so the two sides never share an occupation:

- training side: the planted corpus, its training and probe templates, and the WinoBias *dev* pairs used for
  training, which must mention training-side occupations only;
- evaluation side: the WinoBias *test* pairs, which must mention evaluation-side occupations only.

Each of the two WinoBias lists (20 male-, 20 female-stereotyped occupations) is split separately, so both
sides keep both stereotype genders. A WinoBias sentence names two occupations (one of each list), so with
an evaluation fraction of 0.5 about a quarter of the test pairs (and of the dev pairs) remain; pairs that mix
the two sides are used nowhere.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from fairforget.data.settings import get_float, get_int
from fairforget.data.textfiles import read_lines
from fairforget.errors import ConfigError, DataError
from fairforget.hashing import sha256_file

CONFIG_KEY = "data.occupation_split"
DEFAULT_EVALUATION_FRACTION = 0.5
SIDES = ("training", "evaluation")


def load_occupations(male_path: str | Path, female_path: str | Path) -> dict[str, str]:
    """occupation -> stereotype gender ("male"/"female"), from the WinoBias occupation lists."""
    occupations: dict[str, str] = {}
    for gender, path in (("male", male_path), ("female", female_path)):
        for line_number, line in enumerate(read_lines(path), start=1):
            name = line.strip()
            if not name:
                continue
            if name in occupations:
                raise DataError(f"{path}:{line_number}: occupation {name!r} is listed twice")
            occupations[name] = gender
    if sorted(set(occupations.values())) != ["female", "male"]:
        raise DataError(f"{male_path}, {female_path}: need at least one male and one female occupation")
    return occupations


@dataclass(frozen=True)
class OccupationSplit:
    """All occupations (name -> stereotype gender) and the names on the evaluation side."""

    occupations: Mapping[str, str]
    evaluation_names: frozenset[str]
    evaluation_fraction: float
    seed: int
    source_sha256: Mapping[str, str] = field(default_factory=dict)

    def side(self, name: str) -> dict[str, str]:
        """The occupations of one side ("training" or "evaluation") as name -> stereotype gender."""
        if name not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {name!r}")
        on_evaluation = name == "evaluation"
        return {o: g for o, g in self.occupations.items() if (o in self.evaluation_names) == on_evaluation}

    @property
    def training(self) -> dict[str, str]:
        return self.side("training")

    @property
    def evaluation(self) -> dict[str, str]:
        return self.side("evaluation")

    @cached_property
    def _mention(self) -> re.Pattern[str]:
        # longest names first, so "construction worker" is not read as a shorter name; an optional plural "s"
        names = sorted(self.occupations, key=lambda n: (-len(n), n))
        return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")s?\b", re.IGNORECASE)

    @cached_property
    def _canonical(self) -> dict[str, str]:
        return {name.lower(): name for name in self.occupations}

    def mentions(self, text: str) -> frozenset[str]:
        """The listed occupations a text names (whole words, case-insensitive, singular or plural)."""
        return frozenset(self._canonical[m.group(1).lower()] for m in self._mention.finditer(text))

    def pairs_on_side(self, records: Iterable[dict[str, Any]], side: str) -> tuple[list[dict[str, Any]], int]:
        """Pair records whose sentences name occupations of `side` only (kept with an added sorted
        `occupations` field), and how many were left out because they name an occupation of the other side."""
        allowed = set(self.side(side))
        kept, dropped = [], 0
        for record in records:
            named = self.mentions(record["stereo"]) | self.mentions(record["anti"])
            if named <= allowed:
                kept.append({**record, "occupations": sorted(named)})
            else:
                dropped += 1
        return kept, dropped

    def record(self) -> dict[str, Any]:
        """What meta.json and the leakage card record about the split."""
        return {
            "seed": self.seed,
            "evaluation_fraction": self.evaluation_fraction,
            "training": sorted(self.training),
            "evaluation": sorted(self.evaluation),
            "occupation_sha256": dict(self.source_sha256),
        }


def split_occupations(
    occupations: Mapping[str, str],
    evaluation_fraction: float,
    seed: int,
    source_sha256: Mapping[str, str] | None = None,
) -> OccupationSplit:
    """Draw round(fraction x n) occupations of each stereotype gender for the evaluation side (seeded; the
    draw of one gender does not depend on the other list). Each side keeps at least one of each gender."""
    chosen: set[str] = set()
    for gender in ("female", "male"):
        names = sorted(o for o, g in occupations.items() if g == gender)
        k = math.floor(evaluation_fraction * len(names) + 0.5)
        if not 1 <= k <= len(names) - 1:
            raise ConfigError(
                f"config key '{CONFIG_KEY}.evaluation_fraction': {evaluation_fraction} puts {k} of the "
                f"{len(names)} {gender} occupations on the evaluation side; each side needs at least one"
            )
        chosen |= set(random.Random(f"{seed}:occupation-split:{gender}").sample(names, k))
    return OccupationSplit(
        dict(occupations), frozenset(chosen), float(evaluation_fraction), seed, dict(source_sha256 or {})
    )


def load_occupation_split(
    male_path: str | Path, female_path: str | Path, settings: Mapping[str, Any] | None
) -> OccupationSplit:
    """The split configured by `data.occupation_split` (defaults: evaluation_fraction 0.5, seed 0)."""
    settings = settings or {}
    unknown = set(settings) - {"evaluation_fraction", "seed"}
    if unknown:
        raise ConfigError(f"config key '{CONFIG_KEY}': unknown setting(s) {sorted(unknown)}")
    fraction = get_float(
        settings, "evaluation_fraction", CONFIG_KEY, default=DEFAULT_EVALUATION_FRACTION, low=0.0, high=1.0
    )
    seed = get_int(settings, "seed", CONFIG_KEY, default=0, minimum=0)
    occupations = load_occupations(male_path, female_path)
    sources = {Path(p).name: sha256_file(p) for p in (male_path, female_path)}
    return split_occupations(occupations, fraction, seed, sources)
