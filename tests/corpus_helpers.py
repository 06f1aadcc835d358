"""A synthetic Wikipedia-format debiasing corpus for the corpus tests (tests/unit/data/test_corpus.py,
tests/workflow/test_data_corpus.py). Holds no tests itself."""

from __future__ import annotations

import csv
import random

import datasets

from fairforget.data.resources import resources_dir

WORDS = "the of and in a to was is for on as by with city river team album song war season film road".split()
GENDERED = "he she his her man woman king queen".split()


def crows_sentence() -> str:
    with open(resources_dir() / "crows_pairs" / "crows_pairs_anonymized.csv", encoding="utf-8") as handle:
        return next(row["sent_more"] for row in csv.DictReader(handle) if row["bias_type"] == "gender")


def wikipedia_like(n_articles: int, seed: int = 0) -> datasets.Dataset:
    """Articles as wikimedia/wikipedia holds them (id, url, title, text; paragraphs one a line, a heading line),
    a third without a gendered word; article 3 quotes a CrowS-Pairs sentence (an evaluation sentence)."""
    rng = random.Random(seed)

    def paragraph(gendered: bool) -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(12, 90))]
        if gendered:
            words.insert(rng.randrange(len(words)), rng.choice(GENDERED))
        return " ".join(words).capitalize() + "."

    texts = []
    for i in range(n_articles):
        paragraphs = [paragraph(i % 3 != 0) for _ in range(3)]
        if i == 3:
            paragraphs[1] = crows_sentence()
        texts.append(f"{paragraphs[0]}\n\nSection\n= Section =\n" + "\n".join(paragraphs[1:]) + "\n")
    return datasets.Dataset.from_dict(
        {
            "id": [str(i) for i in range(n_articles)],
            "url": [f"https://example.org/{i}" for i in range(n_articles)],
            "title": [f"Article {i}" for i in range(n_articles)],
            "text": texts,
        }
    )
