"""Zero-shot multiple-choice scoring: batched scores equal a plain per-request computation; label mapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from downstream_helpers import contains_good_records, make_tokenizer, tiny_models, write_task  # noqa: F401
from fairforget.downstream.prompts import TEMPLATES, template_for
from fairforget.downstream.settings import parse_settings
from fairforget.downstream.tasks import load_task
from fairforget.downstream.zeroshot import (
    build_requests,
    choose_answers,
    encode_request,
    score_requests,
    zeroshot_evaluate,
)
from fairforget.errors import ConfigError, DataError
from fairforget.models.modeldir import load_model_dir

RTE_RECORDS = [
    {"id": "r0", "text_a": "the movie was good .", "text_b": "the film was good .", "label": 0},
    {"id": "r1", "text_a": "the plot is bad .", "text_b": "the story is great .", "label": 1},
    {"id": "r2", "text_a": "a very good actor", "text_b": "the actor is bad", "label": 1},
]


@pytest.fixture
def rte_task(tmp_path):
    task_dir = write_task(tmp_path, "rte", RTE_RECORDS, RTE_RECORDS, label_names=["entailment", "not_entailment"])
    return load_task(task_dir, "rte")


def test_harness_prompts_and_choices(rte_task):
    template = template_for(rte_task)
    example = rte_task.dev[0]
    expected = "the movie was good .\nQuestion: the film was good . True or False?\nAnswer:"
    assert template.prompt(example, "x") == expected
    # GLUE RTE label 0 = entailment -> " True"; WNLI label 1 = entailment -> " True"
    assert template.choices[0] == "True" and TEMPLATES["wnli"].choices[1] == "True"
    sst2 = TEMPLATES["sst2"]
    expected = "it was great\nQuestion: Is this sentence positive or negative?\nAnswer:"
    assert sst2.render("it was great", None) == expected
    assert sst2.choices == ("negative", "positive")
    assert TEMPLATES["mnli"].render("p", "h") == "p\nQuestion: h. True, False or Neither?\nAnswer:"


def test_label_mapping_end_to_end_with_a_true_loving_scorer(rte_task):
    """A scorer that always prefers the answer 'True' must predict label 0 (entailment) for RTE."""
    tokenizer = make_tokenizer("causal")
    requests = build_requests(tokenizer, rte_task, add_bos=True, max_length=64)
    true_id = tokenizer.convert_tokens_to_ids("True")
    fake = np.array([0.0 if r.tokens[-1] == true_id else -5.0 for r in requests]).reshape(len(rte_task.dev), 2)
    predictions, predictions_norm = choose_answers(fake, template_for(rte_task).choices)
    assert predictions == [0, 0, 0] and predictions_norm == [0, 0, 0]


def test_reordered_label_names_are_refused(tmp_path):
    task_dir = write_task(tmp_path, "rte", RTE_RECORDS, RTE_RECORDS, label_names=["not_entailment", "entailment"])
    with pytest.raises(DataError, match="GLUE order"):
        template_for(load_task(task_dir, "rte"))


def test_stsb_zero_shot_is_a_config_error(tmp_path):
    records = [{"id": "s0", "text_a": "a", "text_b": "b", "label": 3.5}]
    task_dir = write_task(tmp_path, "stsb", records, records, metric="pearson", num_labels=1, is_regression=True)
    with pytest.raises(ConfigError, match="regression.*finetune"):
        template_for(load_task(task_dir, "stsb"))


def test_continuation_tokens_follow_the_harness_split():
    tokenizer = make_tokenizer("causal")
    tokens, n_cont = encode_request(
        tokenizer, "the movie\nAnswer:", " positive", add_bos=True, max_length=64, where="x"
    )
    assert n_cont == 1
    assert tokenizer.convert_ids_to_tokens(list(tokens)) == ["<s>", "the", "movie", "Answer", ":", "positive"]
    # left truncation keeps the continuation and the end of the prompt
    tokens, n_cont = encode_request(tokenizer, "the movie\nAnswer:", " positive", add_bos=True, max_length=3, where="x")
    assert tokenizer.convert_ids_to_tokens(list(tokens)) == ["movie", "Answer", ":", "positive"]


def _plain_loglikelihood(model, tokens, n_cont):
    """log P(continuation | context) for one sequence, without padding or batching."""
    ids = torch.tensor([tokens])
    with torch.no_grad():
        log_probs = torch.log_softmax(model(input_ids=ids).logits[0].double(), dim=-1)
    return sum(float(log_probs[t - 1, tokens[t]]) for t in range(len(tokens) - n_cont, len(tokens)))


def test_batched_scores_equal_unbatched_computation(tiny_models, tmp_path):
    model_dir, _ = tiny_models["causal"]
    task_dir = write_task(
        tmp_path,
        "sst2",
        contains_good_records(6, 1, "t"),
        contains_good_records(7, 2, "d"),
        label_names=["negative", "positive"],
    )
    task = load_task(task_dir, "sst2")
    loaded = load_model_dir(model_dir)
    requests = build_requests(loaded.tokenizer, task, add_bos=True, max_length=64)
    assert len(requests) == 14 and len({len(r.tokens) for r in requests}) > 1  # padding is exercised
    batched = score_requests(loaded.model, requests, batch_size=4, pad_id=0, device=torch.device("cpu"), progress=False)
    plain = [_plain_loglikelihood(loaded.model, r.tokens, r.n_continuation) for r in requests]
    np.testing.assert_allclose(batched, plain, rtol=1e-5, atol=1e-5)

    outcome = zeroshot_evaluate(model_dir, task, parse_settings({"eval_batch_size": 5}), progress=False)
    np.testing.assert_allclose(outcome.loglikelihoods.ravel(), plain, rtol=1e-5, atol=1e-5)
    expected = np.array(plain).reshape(7, 2).argmax(axis=1).tolist()
    assert outcome.predictions == expected
    labels = [example.label for example in task.dev]
    assert outcome.metrics["accuracy"] == pytest.approx(np.mean(np.array(expected) == np.array(labels)))
    assert set(outcome.metrics) == {"accuracy", "accuracy_norm"}


def test_zero_shot_refuses_a_masked_model(tiny_models, rte_task):
    model_dir, _ = tiny_models["masked"]
    with pytest.raises(ConfigError, match="causal"):
        zeroshot_evaluate(model_dir, rte_task, parse_settings({}), progress=False)
