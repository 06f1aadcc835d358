"""The planted stereotype is learnable and transfers to the held-out probe templates, and CDA on the
debiasing corpus removes it: checked with a tiny word-level GRU language model (seconds on one CPU thread).

This is a property of the data design, independent of the workflow's own toy models: if templates were
reworded so that the association no longer transferred, this test would fail.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
import yaml

from fairforget.data.build import build_data
from fairforget.data.cda import augment, read_word_pairs_json

REPO = Path(__file__).resolve().parent.parent


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class WordGRU(torch.nn.Module):
    def __init__(self, vocab_size: int, hidden: int = 32) -> None:
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


def train(model: WordGRU, vocab: Vocab, texts: list[str], epochs: int, lr: float, seed: int) -> None:
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        order = list(range(len(texts)))
        random.Random(seed * 100 + epoch).shuffle(order)
        for start in range(0, len(order), 32):
            seqs = [vocab.encode(texts[i]) for i in order[start:start + 32]]
            length = max(map(len, seqs))
            ids = torch.zeros(len(seqs), length, dtype=torch.long)
            mask = torch.zeros(len(seqs), length)
            for row, seq in enumerate(seqs):
                ids[row, :len(seq)] = torch.tensor(seq)
                mask[row, :len(seq)] = 1
            logits = model(ids[:, :-1])
            losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
            loss = (losses * mask[:, 1:]).sum() / mask[:, 1:].sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()


@torch.no_grad()
def stereotype_preference(model: WordGRU, vocab: Vocab, pairs: list[dict]) -> float:
    """Fraction of pairs whose stereotypical sentence gets the higher log-probability."""
    def log_prob(text: str) -> float:
        ids = torch.tensor([vocab.encode(text)])
        logp = model(ids[:, :-1]).log_softmax(-1)
        return logp[0, torch.arange(ids.shape[1] - 1), ids[0, 1:]].sum().item()

    return sum(log_prob(p["stereo"]) > log_prob(p["anti"]) for p in pairs) / len(pairs)


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["data"]
    return build_data(config, tmp_path_factory.mktemp("signal"), tasks=[])


def test_planted_stereotype_is_learnt_on_probes_and_cda_lowers_it(toy_data: dict[str, Path]) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    planted = [r["text"] for r in read(toy_data["planted"])]
    probes = read(toy_data["planted_probes"])
    vocab = Vocab(planted + [p["stereo"] for p in probes] + [p["anti"] for p in probes])
    model = WordGRU(len(vocab.index))
    assert stereotype_preference(model, vocab, probes) == pytest.approx(0.5, abs=0.2)  # untrained: no preference

    train(model, vocab, planted, epochs=10, lr=0.01, seed=0)
    on_training_templates = stereotype_preference(model, vocab, read(toy_data["train_pairs"]))
    assert on_training_templates >= 0.9, f"the planted association was not learnt ({on_training_templates:.3f})"
    # measured 0.74 at this seed (0.88 and 0.94 at seeds 1 and 2): the association transfers to new sentences
    before = stereotype_preference(model, vocab, probes)
    assert before >= 0.7, f"the planted stereotype did not transfer to the probe templates ({before:.3f})"

    word_pairs = read_word_pairs_json(toy_data["word_pairs"])
    augmented = [r["text"] for r in augment(read(toy_data["source"]), word_pairs, sided="two")]
    train(model, vocab, augmented, epochs=1, lr=0.005, seed=1)
    after = stereotype_preference(model, vocab, probes)
    assert after <= before - 0.15, f"CDA did not lower the probe preference ({before:.3f} -> {after:.3f})"
