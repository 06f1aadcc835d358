"""The toy study's planted stereotype: template sentences tying WinoBias occupations to a gendered pronoun.

With probability `skew` a generated sentence uses the pronoun of the occupation's stereotype gender (the
WinoBias male/female occupation lists), otherwise the other gender's. Only the training side of the seeded
occupation split (fairforget.data.occupations) is used, so no planted occupation is in the evaluated WinoBias
test pairs. A tiny LM pretrained on general text plus this corpus learns the association; probe pairs from
held-out PROBE templates (see templates.py) measure it, and CDA on the debiasing corpus should weaken it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fairforget.data.leakage import EvaluationFiles, EvaluationIndex, EvaluationSet, as_index, sentence_key
from fairforget.data.occupations import OccupationSplit
from fairforget.data.settings import get_float, get_int, seeded_subset
from fairforget.data.templates import PROBE_TEMPLATES, TRAINING_TEMPLATES, fill
from fairforget.errors import DataError
from fairforget.io import write_json, write_jsonl

log = logging.getLogger(__name__)

OTHER_GENDER = {"male": "female", "female": "male"}


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
        records.append(
            {
                "id": f"planted-{index:06d}",
                "text": text,
                "occupation": occupation,
                "stereotype_gender": occupations[occupation],
                "pronoun_gender": gender,
                "stereotypical": stereotypical,
                "template": f"train-{template_index:02d}",
            }
        )
    return records


def template_pairs(
    occupations: Mapping[str, str], templates: tuple[str, ...], kind: str, source: str
) -> list[dict[str, Any]]:
    """Every template x occupation as a pair record; the two sentences differ only in the pronoun."""
    records = []
    for template_index, template in enumerate(templates):
        for occupation in sorted(occupations):
            gender = occupations[occupation]
            slug = occupation.lower().replace(" ", "_")
            records.append(
                {
                    "id": f"planted-{kind}-{template_index:02d}-{slug}",
                    "stereo": fill(template, occupation, gender),
                    "anti": fill(template, occupation, OTHER_GENDER[gender]),
                    "bias_type": "gender",
                    "source": source,
                    "occupation": occupation,
                    "stereotype_gender": gender,
                    "template": f"{kind}-{template_index:02d}",
                }
            )
    return records


def training_pairs(occupations: Mapping[str, str]) -> list[dict[str, Any]]:
    return template_pairs(occupations, TRAINING_TEMPLATES, "train", "planted_training_templates")


def probe_pairs(occupations: Mapping[str, str]) -> list[dict[str, Any]]:
    return template_pairs(occupations, PROBE_TEMPLATES, "probe", "planted_probe_templates")


def check_disjoint(training: list[dict[str, Any]], probes: list[dict[str, Any]], evaluation: EvaluationIndex) -> None:
    """No training-template sentence may equal or share a word 8-gram with a probe-template or bias-bearing
    evaluation sentence, and no probe sentence may equal a benchmark sentence (DataError otherwise)."""
    probe_sentences = tuple(r[c] for r in probes for c in ("stereo", "anti"))
    with_probes = EvaluationIndex(
        [*evaluation.sets, EvaluationSet("planted_probes", probe_sentences, True)], evaluation.n
    )
    for record in training:
        for column in ("stereo", "anti"):
            leak = with_probes.leak(record[column])
            if leak is not None:
                what = "equals" if leak == "sentence" else f"shares a word {evaluation.n}-gram with"
                raise DataError(
                    f"training template {record['template']} produces {record[column]!r}, which {what} "
                    "a probe or evaluation sentence; reword the template in data/templates.py"
                )
    for sentence in probe_sentences:
        if sentence_key(sentence) in evaluation.sentences:
            raise DataError(
                f"a probe template produces {sentence!r}, which is also a sentence of an existing "
                "benchmark; reword it in data/templates.py"
            )


def prepare_planted(
    occupation_split: OccupationSplit,
    evaluation: EvaluationFiles | EvaluationIndex,
    corpus_out: str | Path,
    train_pairs_out: str | Path,
    probes_out: str | Path,
    meta_out: str | Path,
    settings: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Write the planted corpus, the training-template pairs and the held-out probe pairs.

    Only the training-side occupations of `occupation_split` are used (the evaluation side is kept for the
    WinoBias test pairs). `evaluation`: the benchmark files or their index, which no template sentence may
    equal or share a word 8-gram with (fairforget.data.leakage).
    """
    key = "data.planted_stereotype"
    evaluation = as_index(evaluation)
    # n_sentences 0 = no planted stereotype (pretrained hub models); the probes still measure the association
    n_sentences = get_int(settings, "n_sentences", key, minimum=0)
    skew = get_float(settings, "skew", key, low=0.0, high=1.0)
    n_probe_pairs = get_int(settings, "n_probe_pairs", key, default=None, minimum=1, optional=True)
    occupations = occupation_split.training
    train = training_pairs(occupations)
    all_probes = probe_pairs(occupations)
    check_disjoint(train, all_probes, evaluation)
    probes = seeded_subset(all_probes, n_probe_pairs, seed, "planted-probes")
    corpus = planted_sentences(occupations, n_sentences, skew, seed)
    write_jsonl(corpus_out, corpus)
    write_jsonl(train_pairs_out, train)
    write_jsonl(probes_out, probes)
    meta = {
        "seed": seed,
        "n_sentences": n_sentences,
        "skew": skew,
        "observed_stereotypical_fraction": sum(r["stereotypical"] for r in corpus) / n_sentences if corpus else None,
        "n_occupations": len(occupations),
        "n_training_templates": len(TRAINING_TEMPLATES),
        "n_probe_templates": len(PROBE_TEMPLATES),
        "n_training_pairs": len(train),
        "n_probe_pairs": len(probes),
        "n_probe_pairs_available": len(all_probes),
        "occupation_split": occupation_split.record(),
    }
    write_json(meta_out, meta)
    log.info(
        "planted corpus: %d sentences (stereotypical fraction %s), %d training pairs, %d probe pairs",
        n_sentences,
        meta["observed_stereotypical_fraction"],
        len(train),
        len(probes),
    )
    return meta
