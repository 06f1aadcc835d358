"""`unlikelihood`: DPO against the frozen base model, recomputed from explicit sequence log-probs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fairforget.errors import TrainingError
from fairforget.training.plugins import OBJECTIVES
from objectives_helpers import STEREO_PAIRS, context, generator, tiny

torch.set_num_threads(1)


def _perturb(model, seed=1):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))


def causal_log_prob(model, tokenizer, text):
    ids = tokenizer([text], return_tensors="pt")["input_ids"]
    log_probs = torch.log_softmax(model(ids).logits[0], -1)
    return sum(log_probs[t - 1, ids[0, t]] for t in range(1, ids.shape[1]))


def masked_diff_log_prob(model, tokenizer, text, other):
    """Mask the tokens of `text` that differ from `other`, sum log p(original) there (one pass)."""
    ids = tokenizer([text], return_tensors="pt")["input_ids"]
    other_ids = tokenizer([other], return_tensors="pt")["input_ids"]
    assert ids.shape == other_ids.shape  # one-word swaps in these pairs
    differ = [i for i in range(ids.shape[1]) if ids[0, i] != other_ids[0, i]]
    masked = ids.clone()
    masked[0, differ] = tokenizer.mask_token_id
    log_probs = torch.log_softmax(model(masked).logits[0], -1)
    return sum(log_probs[i, ids[0, i]] for i in differ)


def _dpo(policy_s, policy_a, ref_s, ref_a, beta):
    return -F.logsigmoid(beta * ((policy_a - ref_a) - (policy_s - ref_s)))


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_dpo_loss_matches_explicit_log_probs(kind):
    model, tokenizer = tiny(kind)
    model.eval()
    ctx = context(kind, tokenizer)
    objective = OBJECTIVES.get("unlikelihood")(beta=0.5, lm_weight=0.0)
    objective.prepare_model(model, ctx)  # reference = the model as it is now

    def score(text, other):
        if kind == "causal":
            return causal_log_prob(model, tokenizer, text)
        return masked_diff_log_prob(model, tokenizer, text, other)

    with torch.no_grad():
        reference = [(score(s, a), score(a, s)) for s, a in STEREO_PAIRS]
    _perturb(model)  # the policy moves away from the reference
    examples = [{"type": "pair", "stereo": s, "anti": a} for s, a in STEREO_PAIRS]
    loss = objective.loss(model, objective.collate(examples, ctx, generator(0)), ctx)
    expected = torch.stack(
        [
            _dpo(score(s, a), score(a, s), ref_s, ref_a, 0.5)
            for (s, a), (ref_s, ref_a) in zip(STEREO_PAIRS, reference, strict=True)
        ]
    ).mean()
    assert torch.allclose(loss, expected, atol=1e-5)
    assert abs(loss.item() - torch.log(torch.tensor(2.0)).item()) > 1e-4  # not the value at the reference


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_loss_at_the_reference_is_log_two_plus_weighted_lm(kind):
    model, tokenizer = tiny(kind)
    model.eval()
    ctx = context(kind, tokenizer)
    objective = OBJECTIVES.get("unlikelihood")(lm_weight=0.3)
    objective.prepare_model(model, ctx)
    examples = objective.build_examples(ctx)
    assert sum(e["type"] == "pair" for e in examples) == len(STEREO_PAIRS)
    batch = objective.collate(examples, ctx, generator(0))
    text_only = objective.collate([e for e in examples if e["type"] == "text"], ctx, generator(0))
    lm_part = objective.loss(model, text_only, ctx) / 0.3
    assert torch.allclose(objective.loss(model, batch, ctx), torch.log(torch.tensor(2.0)) + 0.3 * lm_part, atol=1e-5)


# the same on the default, avx2 and avx512 kernel paths (below): not rerun on the default path
@pytest.mark.learned(same_on_kernel_paths=True)
def test_a_step_prefers_the_anti_stereotypical_sentence():
    model, tokenizer = tiny("causal")
    model.eval()
    ctx = context("causal", tokenizer)
    objective = OBJECTIVES.get("unlikelihood")(beta=1.0, lm_weight=0.0)
    objective.prepare_model(model, ctx)
    examples = [{"type": "pair", "stereo": s, "anti": a} for s, a in STEREO_PAIRS]
    batch = objective.collate(examples, ctx, generator(0))

    def margin():
        with torch.no_grad():
            return sum(
                causal_log_prob(model, tokenizer, a) - causal_log_prob(model, tokenizer, s) for s, a in STEREO_PAIRS
            )

    before = margin()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    objective.loss(model, batch, ctx).backward()
    optimizer.step()
    # the anti-over-stereo margin grew by 2.70-5.40 nats over model seeds 0-9, the same on the default, avx2 and
    # avx512 kernel paths (this test: seed 0, 4.89)
    assert margin() > before


def test_collate_before_prepare_and_unknown_pairs_are_refused():
    _, tokenizer = tiny("causal")
    ctx = context("causal", tokenizer)
    objective = OBJECTIVES.get("unlikelihood")()
    with pytest.raises(TrainingError, match="before prepare_model"):
        objective.collate([{"type": "pair", "stereo": "he", "anti": "she"}], ctx, generator(0))
    with pytest.raises(TrainingError, match="no stereotype training pairs"):
        objective.prepare_model(tiny("causal")[0], context("causal", tokenizer, stereo_pairs=[]))
