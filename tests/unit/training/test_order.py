"""Engine efficiency features: up-front tokenisation (same batches as per-batch tokenisation), a sync-free LM
loss, length grouping (deterministic, exact resume, less padding), the AdamW kernel choice, SDPA attention."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from engine_helpers import TINY_ARCH, general_sentence, planted_sentence, train_tiny
from fairforget.errors import ConfigError, TrainingError
from fairforget.models.modeldir import load_model_dir, save_model_dir
from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.training import lm
from fairforget.training.loop import TrainingPreempted
from fairforget.training.optim import make_adamw
from fairforget.training.order import GROUP_BATCHES, ExampleOrder, example_stream_indices
from fairforget.training.plugins import TrainingContext
from fairforget.training.settings import TrainSettings

torch.set_num_threads(1)
KINDS = ("masked", "causal")
TEXTS = (
    [planted_sentence(random.Random(i), 0.9) for i in range(12)]
    + [general_sentence(random.Random(50 + i)) for i in range(12)]
    + ["a very long sentence " * 20]
)  # truncated at max_length


def _ctx(kind: str, max_length: int = 16) -> TrainingContext:
    tokenizer = train_tokenizer(TEXTS, kind, 200, model_max_length=64)
    return TrainingContext(
        kind=kind,
        tokenizer=tokenizer,
        seed=0,
        max_length=max_length,
        debias_texts=TEXTS,
        stereo_pairs=[],
        word_pairs=[],
        general_texts=[],
    )


@pytest.mark.parametrize("kind", KINDS)
def test_cached_encoding_equals_tokenize(kind: str) -> None:
    ctx = _ctx(kind)
    lm.pretokenize(ctx, TEXTS + TEXTS[:3])  # duplicates are stored once
    cache = ctx.extra[lm.TOKEN_CACHE]
    assert len(cache.index) == len(TEXTS)
    for batch in (TEXTS[:5], TEXTS[-4:], [TEXTS[3]], [TEXTS[0], TEXTS[0], TEXTS[7]]):
        cached, direct = lm.encode(ctx, batch), lm.tokenize(ctx.tokenizer, batch, ctx.max_length)
        assert cached.keys() == direct.keys()
        for key in direct:
            assert cached[key].dtype == direct[key].dtype, key
            assert torch.equal(cached[key], direct[key]), key
    # a text outside the cache falls back to the tokenizer, with the same result
    unseen = ["the nurse said that she was tired ."] + TEXTS[:2]
    assert torch.equal(lm.encode(ctx, unseen)["input_ids"], lm.tokenize(ctx.tokenizer, unseen, 16)["input_ids"])


@pytest.mark.parametrize("kind", KINDS)
def test_collate_is_identical_with_and_without_the_cache(kind: str) -> None:
    plain, cached = _ctx(kind), _ctx(kind)
    lm.pretokenize(cached, TEXTS)
    examples = [{"type": "text", "text": t} for t in TEXTS[:8]]
    a = lm.collate_text_examples(examples, plain, torch.Generator().manual_seed(3))
    b = lm.collate_text_examples(examples, cached, torch.Generator().manual_seed(3))
    for key in ("input_ids", "attention_mask", "labels"):
        assert torch.equal(a[key], b[key]), key


def test_a_cache_for_another_tokenizer_or_length_is_not_used() -> None:
    ctx = _ctx("masked")
    lm.pretokenize(ctx, TEXTS)
    ctx.max_length = 8  # the cache was built for 16: encode must not serve 16-token rows
    assert lm.encode(ctx, TEXTS[:4])["input_ids"].shape[1] <= 8


def test_lm_loss_needs_no_host_sync() -> None:
    # meta tensors have no values: any data-dependent branch (bool(), .item()) raises on them
    logits = torch.randn(2, 7, 11, device="meta", requires_grad=True)
    labels = torch.randint(0, 11, (2, 7), device="meta")
    for kind in KINDS:
        assert lm.lm_loss_from_logits(logits, labels, kind).shape == ()
    with pytest.raises(RuntimeError):
        bool((labels != lm.IGNORE_INDEX).any())


def test_causal_loss_shifts_labels_like_the_model() -> None:
    ctx = _ctx("causal")
    model = build_toy_model("causal", TINY_ARCH, ctx.tokenizer, seed=0)
    batch = lm.collate_text_examples([{"type": "text", "text": t} for t in TEXTS[:6]], ctx, torch.Generator())
    logits = lm.model_logits(model, batch)
    ours = lm.lm_loss_from_logits(logits, batch["labels"], "causal")
    log_probs, scored = lm.token_log_probs(logits, batch["labels"], "causal")
    assert torch.allclose(ours, -log_probs[scored].mean(), atol=1e-6)


def test_plain_order_is_unchanged_by_caching() -> None:
    def reference(n: int, seed: int, start: int, count: int) -> list[int]:
        out = []
        for position in range(start, start + count):
            epoch, offset = divmod(position, n)
            out.append(torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))[offset])
        return [int(i) for i in out]

    order = ExampleOrder(7, seed=4, batch_size=3)
    taken = [i for start in range(0, 30, 3) for i in order.take(start, 3)]
    assert taken == reference(7, 4, 0, 30) == example_stream_indices(7, 4, 0, 30)


def test_length_grouping_is_deterministic_and_cuts_padding() -> None:
    rng = random.Random(0)
    n, batch = 4 * GROUP_BATCHES * 8 + 13, 8
    lengths = [rng.randint(4, 200) for _ in range(n)]
    grouped = ExampleOrder(n, seed=1, batch_size=batch, lengths=lengths)
    plain = ExampleOrder(n, seed=1, batch_size=batch)
    positions = range(0, 3 * n, batch)
    grouped_batches = [grouped.take(p, batch) for p in positions]
    assert grouped_batches == [ExampleOrder(n, 1, batch, lengths).take(p, batch) for p in positions]
    # each window holds exactly the examples of the plain stream's window, regrouped
    window = grouped.window
    assert window == batch * GROUP_BATCHES
    for w in range(3):
        assert sorted(grouped.take(w * window, window)) == sorted(plain.take(w * window, window))

    def padding(batches: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    plain_batches = [plain.take(p, batch) for p in positions]
    assert padding(grouped_batches) < 0.2 * padding(plain_batches)
    # batch order is shuffled, not longest-first throughout
    maxima = [max(lengths[i] for i in b) for b in grouped_batches[:GROUP_BATCHES]]
    assert maxima != sorted(maxima, reverse=True)
    assert ExampleOrder(n, 2, batch, lengths).take(0, window) != grouped.take(0, window)
    with pytest.raises(TrainingError, match="3 lengths for 4 examples"):
        ExampleOrder(4, 0, 2, [1, 2, 3])


def test_group_by_length_training_resumes_exactly(tmp_path: Path) -> None:
    reference, _ = train_tiny(tmp_path, "ref", group_by_length=True)
    plain, _ = train_tiny(tmp_path, "plain")
    with pytest.raises(TrainingPreempted):
        train_tiny(tmp_path, "resumed", stop_after=5, group_by_length=True)
    resumed, result = train_tiny(tmp_path, "resumed", group_by_length=True)
    assert result.resumed_from_step == 5
    assert resumed["content_hash"] == reference["content_hash"] != plain["content_hash"]


def test_optimizer_kernel_choice() -> None:
    model = torch.nn.Linear(3, 2)
    for impl, fused, foreach in (
        ("auto", True, None),
        ("fused", True, None),
        ("foreach", None, True),
        ("for_loop", None, False),
    ):
        settings = TrainSettings(optimizer_impl=impl)
        optimizer, used = make_adamw(
            model, settings.learning_rate, settings.weight_decay, settings.optimizer_impl, torch.device("cpu")
        )
        assert used == ("fused" if impl == "auto" else impl)
        group = optimizer.param_groups[0]
        assert bool(group["fused"]) == bool(fused) and (foreach is None or group["foreach"] == foreach)
    with pytest.raises(ConfigError, match="config key 'training.optimizer_impl'"):
        TrainSettings.from_config({"optimizer_impl": "sgd"}, seed=0)
    with pytest.raises(ConfigError, match="config key 'training.group_by_length'"):
        TrainSettings.from_config({"group_by_length": "yes"}, seed=0)


@pytest.mark.parametrize("kind", KINDS)
def test_models_are_built_and_loaded_with_sdpa_attention(tmp_path: Path, kind: str) -> None:
    ctx = _ctx(kind)
    model = build_toy_model(kind, TINY_ARCH, ctx.tokenizer, seed=0)
    assert model.config._attn_implementation == "sdpa"
    save_model_dir(model, ctx.tokenizer, tmp_path / "m", kind)
    assert load_model_dir(tmp_path / "m").model.config._attn_implementation == "sdpa"


def test_engine_reports_the_optimizer_kernel(tmp_path: Path) -> None:
    _, result = train_tiny(tmp_path, "k", optimizer_impl="foreach", epochs=0.25)
    assert result.optimizer_impl == "foreach" and result.summary()["optimizer_impl"] == "foreach"
    assert TrainSettings().optimizer_impl == "auto"


@pytest.mark.parametrize("kind", KINDS)
def test_per_batch_tokenisation_of_a_large_corpus_gives_the_same_checkpoint(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above PRETOKENIZE_MAX_EXAMPLES the texts are tokenised per batch (memory flat in the corpus): the same
    batches, and the same saved tokenizer settings, so the same content hash as the up-front path."""
    import fairforget.training.run as engine_module
    from fairforget.training.plugins import OBJECTIVES, REMEDIES

    def train(name: str, limit: int) -> str:
        monkeypatch.setattr(engine_module, "PRETOKENIZE_MAX_EXAMPLES", limit)
        objective = OBJECTIVES.get("none")(config_key="objectives.none")
        remedy = REMEDIES.get("none")(config_key="remedies.none")
        manifest, _ = train_tiny(tmp_path, name, kind, objective=objective, remedy=remedy)
        return manifest["content_hash"]

    assert train("up_front", 10**9) == train("per_batch", 0)
