"""The toy study's planted stereotype: template sentences tying WinoBias occupations to a gendered pronoun.

With probability `skew` a generated sentence uses the pronoun of the occupation's stereotype gender (the
WinoBias male/female occupation lists), otherwise the other gender's. A tiny LM pretrained on general text
plus this corpus learns the association; probe pairs from held-out PROBE templates (see templates.py)
measure it, and CDA on the debiasing corpus should weaken it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fairforget.data.leakage import EvaluationFiles, as_sentence_set, normalise
from fairforget.data.settings import get_float, get_int, seeded_subset
from fairforget.data.templates import PROBE_TEMPLATES, TRAINING_TEMPLATES, fill
from fairforget.data.textfiles import read_lines
from fairforget.errors import DataError
from fairforget.hashing import sha256_file
from fairforget.io import write_json, write_jsonl

log = logging.getLogger(__name__)

OTHER_GENDER = {"male": "female", "female": "male"}


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


def planted_sentences(occupations: Mapping[str, str], n_sentences: int, skew: float, seed: int) -> list[dict[str, Any]]:
    """`n_sentences` training-template sentences; the pronoun follows the stereotype with probability `skew`."""
    rng = random.Random(f"{seed}:planted")
    names = sorted(occupations)
    records = []
    for index in range(n_sentences):
        template_index = rng.randrange(len(TRAINING_TEMPLATES))
        occupation = names[rng.randrange(len(names))]
        stereotypical = rng.random() < skew
        gender = occupations[occupation] if stereotypical else OTHER_GENDER[occupations[occupation]]
        text = fill(TRAINING_TEMPLATES[template_index], occupation, gender)
        records.append({"id": f"planted-{index:06d}", "text": text,
                        "occupation": occupation, "stereotype_gender": occupations[occupation],
                        "pronoun_gender": gender, "stereotypical": stereotypical,
                        "template": f"train-{template_index:02d}"})
    return records


def template_pairs(occupations: Mapping[str, str], templates: tuple[str, ...], kind: str,
                   source: str) -> list[dict[str, Any]]:
    """Every template x occupation as a pair record; the two sentences differ only in the pronoun."""
    records = []
    for template_index, template in enumerate(templates):
        for occupation in sorted(occupations):
            gender = occupations[occupation]
            slug = occupation.lower().replace(" ", "_")
            records.append({"id": f"planted-{kind}-{template_index:02d}-{slug}",
                            "stereo": fill(template, occupation, gender),
                            "anti": fill(template, occupation, OTHER_GENDER[gender]),
                            "bias_type": "gender", "source": source, "occupation": occupation,
                            "stereotype_gender": gender, "template": f"{kind}-{template_index:02d}"})
    return records


def training_pairs(occupations: Mapping[str, str]) -> list[dict[str, Any]]:
    return template_pairs(occupations, TRAINING_TEMPLATES, "train", "planted_training_templates")


def probe_pairs(occupations: Mapping[str, str]) -> list[dict[str, Any]]:
    return template_pairs(occupations, PROBE_TEMPLATES, "probe", "planted_probe_templates")


def check_disjoint(training: list[dict[str, Any]], probes: list[dict[str, Any]], evaluation: set[str]) -> None:
    """No training-template sentence may equal a probe-template or evaluation sentence (DataError otherwise)."""
    probe_set = {normalise(r[c]) for r in probes for c in ("stereo", "anti")}
    for record in training:
        for column in ("stereo", "anti"):
            text = normalise(record[column])
            if text in probe_set or text in evaluation:
                raise DataError(f"training template {record['template']} produces {record[column]!r}, "
                                "which is also an evaluation sentence; reword the template in data/templates.py")
    for record in probes:
        for column in ("stereo", "anti"):
            if normalise(record[column]) in evaluation:
                raise DataError(f"probe template {record['template']} produces {record[column]!r}, which is also "
                                "a sentence of an existing benchmark; reword it in data/templates.py")


def prepare_planted(
    male_occupations: str | Path,
    female_occupations: str | Path,
    evaluation: EvaluationFiles | set[str],
    corpus_out: str | Path,
    train_pairs_out: str | Path,
    probes_out: str | Path,
    meta_out: str | Path,
    settings: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Write the planted corpus, the training-template pairs and the held-out probe pairs.

    `evaluation`: the benchmark files (EvaluationFiles) or their normalised sentences, which no template
    sentence may equal.
    """
    key = "data.planted_stereotype"
    evaluation = as_sentence_set(evaluation)
    # n_sentences 0 = no planted stereotype (pretrained hub models); the probes still measure the association
    n_sentences = get_int(settings, "n_sentences", key, minimum=0)
    skew = get_float(settings, "skew", key, low=0.0, high=1.0)
    n_probe_pairs = get_int(settings, "n_probe_pairs", key, default=None, minimum=1, optional=True)
    occupations = load_occupations(male_occupations, female_occupations)
    train = training_pairs(occupations)
    all_probes = probe_pairs(occupations)
    check_disjoint(train, all_probes, evaluation)
    probes = seeded_subset(all_probes, n_probe_pairs, seed, "planted-probes")
    corpus = planted_sentences(occupations, n_sentences, skew, seed)
    write_jsonl(corpus_out, corpus)
    write_jsonl(train_pairs_out, train)
    write_jsonl(probes_out, probes)
    meta = {
        "seed": seed, "n_sentences": n_sentences, "skew": skew,
        "observed_stereotypical_fraction": sum(r["stereotypical"] for r in corpus) / n_sentences if corpus else None,
        "n_occupations": len(occupations), "n_training_templates": len(TRAINING_TEMPLATES),
        "n_probe_templates": len(PROBE_TEMPLATES), "n_training_pairs": len(train), "n_probe_pairs": len(probes),
        "n_probe_pairs_available": len(all_probes),
        "occupation_sha256": {Path(p).name: sha256_file(p) for p in (male_occupations, female_occupations)},
    }
    write_json(meta_out, meta)
    log.info("planted corpus: %d sentences (stereotypical fraction %s), %d training pairs, %d probe pairs",
             n_sentences, meta["observed_stereotypical_fraction"], len(train), len(probes))
    return meta
