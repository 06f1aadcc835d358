"""The planted stereotype is learnable and transfers to the held-out probe templates, and CDA on the
debiasing corpus removes it: checked with a tiny word-level GRU language model (a few seconds per seed on one
CPU thread).

This is a property of the data design, independent of the workflow's own toy models: if templates were
reworded so that the association no longer transferred, these tests would fail.

A single training run is one draw: which probe pairs transfer depends on the seed and on torch's CPU kernel
path (ATEN_CPU_CAPABILITY; one seed gave 0.74 on one machine and 0.66 on another). So the property is asserted
over SEEDS, on their mean and on every seed, with thresholds set from the spread measured over 10 seeds x the
default, avx2 and avx512 kernel paths (30 runs, toy config data, 2026-12; the numbers are beside each
threshold).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

import pytest
import torch
import yaml

from fairforget.data.build import build_data
from fairforget.data.cda import augment, read_word_pairs_json
from fairforget.data.texttable import read_records as read

REPO = Path(__file__).resolve().parents[3]
SEEDS = (0, 1, 2)
HIDDEN, BATCH, EPOCHS, LR = 64, 128, 10, 0.02  # pretraining on the planted corpus
CDA_EPOCHS, CDA_LR = 1, 0.01


class WordGRU(torch.nn.Module):
    def __init__(self, vocab_size: int, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, hidden)
        self.gru = torch.nn.GRU(hidden, hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.gru(self.embed(ids))[0])


class Vocab:
    def __init__(self, texts: list[str]) -> None:
        self.index = {"<unk>": 0, "<s>": 1}
        for text in texts:
            for word in text.lower().split():
                self.index.setdefault(word, len(self.index))

    def encode(self, text: str) -> list[int]:
        return [1] + [self.index.get(w, 0) for w in text.lower().split()][:40]

    def batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ids and their mask."""
        seqs = [self.encode(text) for text in texts]
        ids = torch.zeros(len(seqs), max(map(len, seqs)), dtype=torch.long)
        mask = torch.zeros(ids.shape)
        for row, seq in enumerate(seqs):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        return ids, mask


def train(model: WordGRU, vocab: Vocab, texts: list[str], epochs: int, lr: float, seed: int) -> None:
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        order = list(range(len(texts)))
        random.Random(seed * 100 + epoch).shuffle(order)
        for start in range(0, len(order), BATCH):
            ids, mask = vocab.batch([texts[i] for i in order[start : start + BATCH]])
            logits = model(ids[:, :-1])
            losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
            loss = (losses * mask[:, 1:]).sum() / mask[:, 1:].sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()


@torch.no_grad()
def stereotype_preference(model: WordGRU, vocab: Vocab, pairs: list[dict]) -> float:
    """Fraction of pairs whose stereotypical sentence gets the higher log-probability."""

    def log_probs(texts: list[str]) -> torch.Tensor:
        ids, mask = vocab.batch(texts)
        logp = model(ids[:, :-1]).log_softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]
        return (logp * mask[:, 1:]).sum(1)

    gaps = log_probs([p["stereo"] for p in pairs]) - log_probs([p["anti"] for p in pairs])
    return (gaps > 0).float().mean().item()


@dataclass(frozen=True)
class Outcome:
    """Preferences of one seed's model: untrained, after learning the planted corpus, after CDA."""

    seed: int
    untrained: float
    training_templates: float
    before: float
    after: float


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["data"]
    data = build_data(config, tmp_path_factory.mktemp("signal"), tasks=[])
    planted = [r["text"] for r in read(data["planted"])]
    probes, training_pairs = read(data["planted_probes"]), read(data["train_pairs"])
    vocab = Vocab(planted + [p["stereo"] for p in probes] + [p["anti"] for p in probes])
    augmented = [
        r["text"] for r in augment(read(data["source"]), read_word_pairs_json(data["word_pairs"]), sided="two")
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = []
        for seed in SEEDS:
            torch.manual_seed(seed)
            model = WordGRU(len(vocab.index))
            untrained = stereotype_preference(model, vocab, probes)
            train(model, vocab, planted, EPOCHS, LR, seed)
            on_training_templates = stereotype_preference(model, vocab, training_pairs)
            before = stereotype_preference(model, vocab, probes)
            train(model, vocab, augmented, CDA_EPOCHS, CDA_LR, seed + 1000)
            results.append(
                Outcome(seed, untrained, on_training_templates, before, stereotype_preference(model, vocab, probes))
            )
    finally:
        torch.set_num_threads(threads)
    print("\n".join(f"GRU planted signal: {o}" for o in results))
    return results


@pytest.mark.learned
def test_planted_stereotype_is_learnt_and_transfers_to_probes(outcomes: list[Outcome]) -> None:
    # untrained: measured 0.48-0.52 over the 10 seeds, the same on the three kernel paths; no preference yet
    assert all(abs(o.untrained - 0.5) <= 0.1 for o in outcomes), outcomes
    # training templates: measured 0.976-0.999 per run (sd 0.006); every seed learns the planted association
    assert all(o.training_templates >= 0.9 for o in outcomes), outcomes
    # held-out probe templates: measured 0.715-0.94 per run (mean 0.844, sd 0.065); the mean of any 3 of the 10
    # seeds on one kernel path was >= 0.748 (360 triples). The association transfers to new sentences.
    assert all(o.before >= 0.6 for o in outcomes), outcomes
    assert mean(o.before for o in outcomes) >= 0.70, outcomes


@pytest.mark.learned
def test_cda_lowers_the_planted_stereotype_on_probes(outcomes: list[Outcome]) -> None:
    # drop in probe preference after one CDA epoch: measured 0.095-0.395 per run (mean 0.229, sd 0.074); the mean
    # of any 3 seeds on one kernel path was >= 0.12. CDA lowers it at every seed, by 0.10 on average at least.
    assert all(o.after < o.before for o in outcomes), outcomes
    assert mean(o.before - o.after for o in outcomes) >= 0.10, outcomes
