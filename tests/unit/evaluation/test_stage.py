"""Stage functions evaluate_base / evaluate_checkpoint end to end on tiny saved models."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import polars as pl
import pytest
import torch

from fairforget.errors import DataError
from fairforget.evaluation.job import EvaluationJob
from fairforget.evaluation.stage import evaluate_base, evaluate_checkpoint, run_evaluation_job
from fairforget.io import write_jsonl
from fairforget.models.modeldir import save_model_dir, write_sidecar
from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.scoring.dispatch import score_texts
from fairforget.scoring.pairs import pair_scoring, pair_sentence_scores, prefers_stereotype

torch.set_num_threads(1)

CORPUS = [
    "the nurse said that she would help the patient",
    "the engineer said that he fixed the machine",
    "the doctor walked to the hospital in the morning",
    "the teacher asked the students to read the book",
    "this is john . this is mary . math and arts and science",
    "career family office home salary children",
] * 3
HELDOUT = [
    "the doctor walked to the hospital",
    "the teacher asked the students",
    "the river froze over",
    "she would help the patient in the morning",
]
PAIRS = [
    ("the nurse said that she would help", "the nurse said that he would help"),
    ("the engineer said that he fixed it", "the engineer said that she fixed it"),
    ("the doctor said that he walked", "the doctor said that she walked"),
    ("the teacher said that she read the book", "the teacher said that he read the book"),
    ("the nurse asked if he would help the patient", "the nurse asked if she would help the patient"),
    ("the engineer said that she fixed the machine", "the engineer said that he fixed the machine"),
]
STEREOSET = [
    {
        "id": "s1",
        "bias_type": "gender",
        "target": "nurse",
        "context": "the nurse was BLANK .",
        "stereotype": "the nurse was she .",
        "anti_stereotype": "the nurse was he .",
        "unrelated": "the nurse was book .",
    },
    {
        "id": "s2",
        "bias_type": "gender",
        "target": "engineer",
        "context": "the engineer fixed the BLANK",
        "stereotype": "the engineer fixed the machine",
        "anti_stereotype": "the engineer fixed the patient",
        "unrelated": "the engineer fixed the morning",
    },
]
SEAT = {
    "targ1": {"category": "M", "examples": ["this is john .", "john is here .", "he is here ."]},
    "targ2": {"category": "F", "examples": ["this is mary .", "mary is here .", "she is here ."]},
    "attr1": {"category": "C", "examples": ["career .", "office .", "salary ."]},
    "attr2": {"category": "H", "examples": ["family .", "home .", "children ."]},
}
ARCH = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}


def evaluation_config(kind):
    metrics = [
        "overall_forgetting",
        "selective_forgetting",
        "planted",
        "winobias",
        "crows_pairs",
        "stereoset",
        "trajectory_forgetting",
    ] + (["seat"] if kind == "masked" else [])
    return {
        "batch_size": 8,
        "max_length": 32,
        "bootstrap_samples": 50,
        "bootstrap_seed": 0,
        "metrics": metrics,
        "seat_tests": ["sent-toy"],
        "seat_permutations": 100,
        "selective_probe_sets": ["planted", "winobias"],
    }


@pytest.fixture(scope="module", params=["masked", "causal"])
def study(request, tmp_path_factory):
    kind = request.param
    root = tmp_path_factory.mktemp(kind)
    tokenizer = train_tokenizer(CORPUS, kind, vocab_size=150 if kind == "masked" else 300)
    base = build_toy_model(kind, ARCH, tokenizer, seed=3)
    tuned = build_toy_model(kind, ARCH, tokenizer, seed=3)
    with torch.no_grad():  # a "fine-tuned" checkpoint: the base weights, slightly moved
        generator = torch.Generator().manual_seed(0)
        for parameter in tuned.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    save_model_dir(base, tokenizer, root / "base", kind)
    write_sidecar(root / "base", root / "base.sha256")
    save_model_dir(tuned, tokenizer, root / "tuned", kind, parent_hash=None)
    write_sidecar(root / "tuned", root / "tuned.sha256")
    write_jsonl(root / "heldout.jsonl", [{"id": f"h{i}", "text": t} for i, t in enumerate(HELDOUT)])
    probes = {}
    for name in ("planted", "winobias", "crows_pairs"):
        probes[name] = root / f"{name}.jsonl"
        write_jsonl(
            probes[name],
            [
                {"id": f"{name}{i}", "stereo": s, "anti": a, "bias_type": "gender" if i < 2 else "race", "source": name}
                for i, (s, a) in enumerate(PAIRS)
            ],
        )
    probes["stereoset"] = root / "stereoset.jsonl"
    write_jsonl(probes["stereoset"], STEREOSET)
    (root / "seat").mkdir()
    (root / "seat" / "sent-toy.jsonl").write_text(json.dumps(SEAT))
    pl.DataFrame(
        {
            "step": [0, 0, 10, 10],
            "probe_set": ["general", "stereotype"] * 2,
            "item_id": ["h0:0", "p0", "h0:0", "p0"],
            "correct": [True, True, False, True],
        }
    ).write_parquet(root / "trajectory.parquet")
    return {"kind": kind, "root": root, "probes": probes, "tokenizer": tokenizer, "base": base, "tuned": tuned}


TOY_RUN = {"model": "toy", "seed": 0}


def run_base(study):
    root = study["root"]
    return evaluate_base(
        root / "base",
        root / "base.sha256",
        root / "heldout.jsonl",
        study["probes"],
        root / "seat",
        root / "out/base/scores",
        root / "out/base/metrics.json",
        evaluation_config(study["kind"]),
        root / "store",
    )


def run_checkpoint(study, config=None, *, out="tuned", store="store", base_scores=None, run=TOY_RUN):
    """Evaluate the study's tuned checkpoint into out/<out>/, against out/base/scores unless `base_scores`."""
    root = study["root"]
    return evaluate_checkpoint(
        root / "base",
        root / "base.sha256",
        base_scores or root / "out/base/scores",
        root / "tuned",
        root / "tuned.sha256",
        root / "trajectory.parquet",
        root / "heldout.jsonl",
        study["probes"],
        root / "seat",
        root / f"out/{out}/scores",
        root / f"out/{out}/metrics.json",
        config or evaluation_config(study["kind"]),
        root / store,
        run=run,
    )


def test_base_then_checkpoint_results_and_cache(study):
    kind, root = study["kind"], study["root"]
    base_result = run_base(study)
    assert base_result["cache"]["hit"] is False and base_result["kind"] == "base_eval"
    names = set(base_result["metrics"])
    assert {
        "planted.stereo_preference",
        "stereoset.ss",
        "stereoset.lms",
        "stereoset.icat",
        "crows_pairs.stereo_preference_race",
    } <= names
    assert not any(n.startswith("overall_forgetting") for n in names)
    assert ("seat.effect_size_toy" in names) == (kind == "masked")
    for value in base_result["metrics"].values():
        assert set(value) == {"value", "ci_low", "ci_high", "n"}

    result = run_checkpoint(study)
    metrics = result["metrics"]
    assert result["cache"]["hit"] is False and result["run"] == {"model": "toy", "seed": 0}
    assert json.loads((root / "out/tuned/metrics.json").read_text()) == result

    # overall forgetting against a direct computation with the scoring functions
    texts = HELDOUT
    base_scores = score_texts(study["base"], study["tokenizer"], kind, texts, max_length=32)
    tuned_scores = score_texts(study["tuned"], study["tokenizer"], kind, texts, max_length=32)
    change = np.mean([(-t.mean()) - (-b.mean()) for b, t in zip(base_scores.logprob, tuned_scores.logprob)])
    assert metrics["overall_forgetting.mean_loss_change"]["value"] == pytest.approx(change, abs=1e-6)
    assert metrics["overall_forgetting.mean_kl"]["value"] > 0
    assert metrics["overall_forgetting.mean_loss_change"]["n"] == len(HELDOUT)

    # the tuned model's planted preference against a direct computation from its definition (docs/metrics.md
    # §1): masked = log p(pronoun | context), the pronoun masked (the pairs differ in that one token), rounded
    # to 3 decimals; causal = mean token log-probability given BOS
    stereo = score_texts(study["tuned"], study["tokenizer"], kind, [s for s, _ in PAIRS], max_length=32)
    anti = score_texts(study["tuned"], study["tokenizer"], kind, [a for _, a in PAIRS], max_length=32)
    prefers = []
    for s_ids, a_ids, s_lp, a_lp in zip(stereo.token_id, anti.token_id, stereo.logprob, anti.logprob):
        if kind == "masked":
            (pronoun,) = np.flatnonzero(s_ids != a_ids)
            prefers.append(round(float(s_lp[pronoun]), 3) > round(float(a_lp[pronoun]), 3))
        else:
            prefers.append(float(s_lp.mean()) > float(a_lp.mean()))
    assert metrics["planted.stereo_preference"]["value"] == pytest.approx(100 * np.mean(prefers))
    # ... and it is the planted scoring, not CrowS-Pairs': the shared-token sum disagrees on pair 4 of this model
    if kind == "masked":
        crows = prefers_stereotype(*pair_sentence_scores(stereo, anti, pair_scoring(kind, "crows_pairs")), 3)
        assert crows.tolist() != prefers
    assert metrics["selective_forgetting.stereo_mean_loss_change"]["n"] == 2 * len(PAIRS)
    # paired change against the base (metrics/paired.py): equal to tuned - base preference on the same pairs,
    # its flips recounted here from the base model's own preferences
    base_stereo = score_texts(study["base"], study["tokenizer"], kind, [s for s, _ in PAIRS], max_length=32)
    base_anti = score_texts(study["base"], study["tokenizer"], kind, [a for _, a in PAIRS], max_length=32)
    base_prefers = prefers_stereotype(
        *pair_sentence_scores(base_stereo, base_anti, pair_scoring(kind, "planted")), 3 if kind == "masked" else None
    )
    base_value = base_result["metrics"]["planted.stereo_preference"]["value"]
    assert base_value == pytest.approx(100 * np.mean(base_prefers))
    paired = metrics["planted.paired_change"]
    assert paired["value"] == pytest.approx(metrics["planted.stereo_preference"]["value"] - base_value)
    assert paired["ci_low"] <= paired["value"] <= paired["ci_high"] and paired["n"] == len(PAIRS)
    to_anti = int(np.sum(base_prefers & ~np.array(prefers)))
    to_stereo = int(np.sum(~base_prefers & np.array(prefers)))
    assert (metrics["planted.flips_to_anti"]["value"], metrics["planted.flips_to_stereo"]["value"]) == (
        to_anti,
        to_stereo,
    )
    assert metrics["planted.mcnemar_p"]["n"] == to_anti + to_stereo and 0 < metrics["planted.mcnemar_p"]["value"] <= 1
    assert {"crows_pairs.paired_change", "stereoset.ss_paired_change", "stereoset.mcnemar_p"} <= set(metrics)
    assert "crows_pairs.lm_eval.paired_change" in metrics or kind == "masked"
    assert metrics["trajectory_forgetting.general_mean_forgetting_events"]["value"] == 1.0
    assert metrics["trajectory_forgetting.stereotype_unforgettable_fraction"]["value"] == 1.0
    tokens = pl.read_parquet(root / "out/tuned/scores/tokens.parquet")
    assert {"set", "text_id", "token_index", "logprob", "correct", "kl"} <= set(tokens.columns)

    # rerun: a cache hit with identical statistics, and the scores directory is restored
    shutil.rmtree(root / "out/tuned/scores")
    again = run_checkpoint(study)
    assert again["cache"] == {"hit": True, "key": result["cache"]["key"]}
    assert again["metrics"] == metrics
    assert pl.read_parquet(root / "out/tuned/scores/tokens.parquet").equals(tokens)
    # a different bootstrap seed is a different key
    other = run_checkpoint(study, {**evaluation_config(kind), "bootstrap_seed": 1})
    assert other["cache"]["hit"] is False and other["cache"]["key"] != result["cache"]["key"]
    assert other["metrics"]["overall_forgetting.mean_loss_change"]["value"] == pytest.approx(change, abs=1e-6)


def test_changed_probe_file_is_a_different_store_key(study):
    """The evaluation's store key holds the content of its data files: a probe file with other content is a cache
    miss with its own key, never the old content's stored result."""
    root = study["root"]
    first = run_base(study)
    edited = root / "edited"
    edited.mkdir(exist_ok=True)
    probes = {**study["probes"], "planted": edited / "planted.jsonl"}
    stereo, anti = PAIRS[0]
    write_jsonl(probes["planted"], [{"id": "planted0", "stereo": anti, "anti": stereo, "bias_type": "gender"}])
    again = evaluate_base(
        root / "base",
        root / "base.sha256",
        root / "heldout.jsonl",
        probes,
        root / "seat",
        edited / "scores",
        edited / "metrics.json",
        evaluation_config(study["kind"]),
        root / "store",
    )
    assert again["cache"]["hit"] is False and again["cache"]["key"] != first["cache"]["key"]
    assert again["metrics"]["planted.stereo_preference"]["n"] == 1


def test_stale_base_scores_are_detected(study):
    root = study["root"]
    run_base(study)
    stale = root / "stale"
    shutil.copytree(root / "out/base/scores", stale, dirs_exist_ok=True)
    tokens = pl.read_parquet(stale / "tokens.parquet")
    tokens.with_columns(pl.col("logprob") - 1.0).write_parquet(stale / "tokens.parquet")
    with pytest.raises(DataError, match="stale"):
        run_checkpoint(
            study,
            {**evaluation_config(study["kind"]), "bootstrap_samples": 20},
            out="stale",
            base_scores=stale,
            run=None,
        )


def test_recomputation_in_a_fresh_store_is_bit_identical(study):
    root = study["root"]
    run_base(study)
    first = run_checkpoint(study)
    fresh = run_checkpoint(study, out="fresh", store="fresh_store")
    assert fresh["cache"]["hit"] is False and fresh["cache"]["key"] == first["cache"]["key"]
    assert fresh["metrics"] == first["metrics"]
    assert pl.read_parquet(root / "out/fresh/scores/tokens.parquet").equals(
        pl.read_parquet(root / "out/tuned/scores/tokens.parquet")
    )


def test_every_convention_lands_in_metrics_json_with_its_record(study):
    """evaluation.conventions listing every convention of the kind (bias-bench's extra pass included): each
    lands under its own column, the plain column equals its default convention's, and truncation is counted."""
    from fairforget.metrics.conventions import CONVENTIONS

    kind, root = study["kind"], study["root"]
    chosen = [n for n in CONVENTIONS.names() if CONVENTIONS.get(n).kind == kind]
    config = {**evaluation_config(kind), "conventions": chosen, "max_length": 10}
    result = evaluate_base(
        root / "base",
        root / "base.sha256",
        root / "heldout.jsonl",
        study["probes"],
        root / "seat",
        root / "out/conventions/scores",
        root / "out/conventions/metrics.json",
        config,
        root / "store_conventions",
    )
    metrics = result["metrics"]
    assert set(result["conventions"]) == set(chosen)
    assert json.loads((root / "out/conventions/metrics.json").read_text())["conventions"] == result["conventions"]
    for name in chosen:
        convention = CONVENTIONS.get(name)
        if convention.metric != "seat":
            statistic = "ss" if convention.metric == "stereoset" else "stereo_preference"
            assert metrics[f"{convention.metric}.{convention.short}.{statistic}"]["n"] > 0, name
    tokenizer = study["tokenizer"]
    record = result["conventions"]
    if kind == "causal":  # the tokens each start policy really used with this tokenizer
        assert record["crows_pairs.causal.lm_eval"]["start_tokens"] == ["<s>"]
        assert record["crows_pairs.causal.bias_bench_bos"]["start_tokens"] == ["<s>"]
        endoftext = tokenizer.convert_ids_to_tokens(tokenizer.encode("<|endoftext|>"))
        assert record["crows_pairs.causal.bias_bench"]["start_tokens"] == endoftext and len(endoftext) > 2
    else:
        assert record["crows_pairs.masked.metric_py"]["start_tokens"] is None
    default = "metric_py" if kind == "masked" else "one_pass_mean"
    assert metrics["crows_pairs.stereo_preference"] == metrics[f"crows_pairs.{default}.stereo_preference"]
    # truncation counted independently from the tokenizer: a pair is cut when either sentence needs > 10 inputs

    def inputs(text):
        ids = tokenizer(text)["input_ids"]
        return len(ids) + (kind == "causal" and ids[0] != tokenizer.bos_token_id)

    expected = sum(max(inputs(s), inputs(a)) > 10 for s, a in PAIRS)
    assert expected > 0
    for pair_set in ("planted", "winobias", "crows_pairs"):
        assert metrics[f"{pair_set}.truncated_items"] == {
            "value": expected,
            "ci_low": expected,
            "ci_high": expected,
            "n": len(PAIRS),
        }
    # the checkpoint against that base: every convention's paired change, the extra-pass ones from the base's
    # stored extra-pass scores, equal to tuned - base of the convention's own score; StereoSet's per target
    tuned = run_checkpoint(
        study, config, out="conventions_tuned", store="store_conventions", base_scores=root / "out/conventions/scores"
    )["metrics"]
    for name in chosen:
        convention = CONVENTIONS.get(name)
        if convention.metric == "seat":
            continue
        score, change = (
            ("ss", "ss_paired_change") if convention.metric == "stereoset" else ("stereo_preference", "paired_change")
        )
        prefix = f"{convention.metric}.{convention.short}."
        expected_change = tuned[prefix + score]["value"] - metrics[prefix + score]["value"]
        assert tuned[prefix + change]["value"] == pytest.approx(expected_change), name
        assert 0 < tuned[prefix + "mcnemar_p"]["value"] <= 1
        if convention.metric == "stereoset":
            assert {prefix + "ss_paired_change_nurse", prefix + "ss_paired_change_engineer"} <= set(tuned), name


def test_the_job_entry_point_runs_the_same_evaluations(study):
    """run_evaluation_job (the rules' entry point) on an EvaluationJob through its JSON: a base model's evaluation
    without a base, a checkpoint's against it, each the same store entry as the direct call."""
    root = study["root"]
    base, checkpoint = run_base(study), run_checkpoint(study)
    base_job = EvaluationJob(
        model_dir=str(root / "base"),
        sidecar=str(root / "base.sha256"),
        base_model_dir=None,
        base_sidecar=None,
        base_scores_dir=None,
        trajectory=None,
        heldout=str(root / "heldout.jsonl"),
        probes={name: str(path) for name, path in study["probes"].items()},
        seat_dir=str(root / "seat"),
        scores_dir=str(root / "out/job_base/scores"),
        metrics_json=str(root / "out/job_base/metrics.json"),
        evaluation=evaluation_config(study["kind"]),
        store_dir=str(root / "store"),
        run=None,
        code=None,
    )
    from_job = run_evaluation_job(EvaluationJob.from_json(base_job.to_json()))
    assert from_job["cache"] == {"hit": True, "key": base["cache"]["key"]} and from_job["kind"] == "base_eval"
    checkpoint_job = dataclasses.replace(
        base_job,
        model_dir=str(root / "tuned"),
        sidecar=str(root / "tuned.sha256"),
        base_model_dir=str(root / "base"),
        base_sidecar=str(root / "base.sha256"),
        base_scores_dir=str(root / "out/base/scores"),
        trajectory=str(root / "trajectory.parquet"),
        scores_dir=str(root / "out/job_tuned/scores"),
        metrics_json=str(root / "out/job_tuned/metrics.json"),
        run=TOY_RUN,
    )
    from_job = run_evaluation_job(EvaluationJob.from_json(checkpoint_job.to_json()))
    assert from_job["cache"] == {"hit": True, "key": checkpoint["cache"]["key"]}
    assert from_job["metrics"] == checkpoint["metrics"] and from_job["run"] == TOY_RUN
