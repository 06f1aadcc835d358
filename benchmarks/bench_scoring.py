"""Benchmark of batched scoring against one-forward-at-a-time scoring, and peak memory as the corpus grows.

    python benchmarks/bench_scoring.py [--sentences 200] [--batch-size 128] [--threads 1] [--repeats 2]

1. Masked: batched PLL (fairforget.scoring.masked) vs the straightforward loop a user would write (one forward
   pass of the whole model per masked token, log-softmax of that position), on a toy BERT (hidden 64, 2 layers,
   vocab 2000) and WikiText-2 test sentences. Also timed: the same batching through the plain encoder + MLM
   head at the masked rows (the route of other BERT-like models), to show what the PLL-specialised BERT pass
   (fairforget.scoring.masked_encoder) adds.
2. Causal: batched next-token scoring vs one forward pass per text on a toy Llama of the same size.
3. Peak resident memory added by batched PLL scoring (Linux VmHWM reset just before scoring) in a fresh
   process for growing corpus sizes: bounded by one batch (and the longest text), not by the corpus.
Methods are timed `--repeats` times, interleaved; the fastest wall and CPU (process) time of each is reported,
CPU time being less disturbed by other load. Exits non-zero if any batched score differs from the baseline's
by more than 1e-6.

Figures of 2026-11-28 (2 shared CPU cores, load average 5-6 from other jobs; 1 thread; 200 sentences,
5,492 scored masked tokens / 6,212 causal tokens), two runs:
  masked, batched PLL vs one forward per masked token: 14.0x / 20.6x wall, 16.1x / 17.2x CPU
      (one pass per token 8.24 / 9.01 s CPU; batched 0.51 / 0.53 s CPU); max |score difference| 1.5e-7
  masked, plain encoder + head at masked rows instead:  8.3x / 11.4x wall,  9.4x / 10.3x CPU
  causal, batched vs one forward per text:               2.9x / 2.5x wall,  2.9x / 2.9x CPU; max diff 1.0e-7
  peak RSS added, 100 / 400 / 1600 / 6400 sentences:    61 / 68 / 152 / 134 MiB and 41 / 95 / 131 / 81 MiB
      (no growth with the corpus; the spread is the allocator and the longest text in the corpus)
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import torch

import fairforget.scoring.masked as masked_scoring
from fairforget.models.toy import build_toy_model, train_tokenizer
from fairforget.scoring.dispatch import score_texts

REPO = Path(__file__).resolve().parent.parent
WIKITEXT = REPO / "resources/data/wikitext2/wiki.test.raw"
ARCH = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "max_position_embeddings": 128,
}


def sentences(n: int, min_words: int = 8, max_words: int = 40) -> list[str]:
    """WikiText-2 test lines of 8-40 words (the toy study's held-out text); synthetic text if absent."""
    if WIKITEXT.is_file():
        lines = [line.strip() for line in WIKITEXT.read_text(encoding="utf-8").splitlines()]
        chosen = [line for line in lines if not line.startswith("=") and min_words <= len(line.split()) <= max_words]
    else:
        rng = np.random.default_rng(0)
        words = [f"w{i}" for i in range(500)]
        chosen = [" ".join(rng.choice(words, size=rng.integers(min_words, max_words))) for _ in range(n)]
    if len(chosen) < n:
        chosen = (chosen * (n // max(len(chosen), 1) + 1))[:n]
    return chosen[:n]


def build(kind: str, texts: list[str]) -> tuple[torch.nn.Module, object]:
    tokenizer = train_tokenizer(sentences(2000), kind, vocab_size=2000)
    return build_toy_model(kind, ARCH, tokenizer, seed=0).eval(), tokenizer


def naive_pll(model: torch.nn.Module, tokenizer: object, texts: list[str], max_length: int) -> list[np.ndarray]:
    out = []
    with torch.inference_mode():
        for text in texts:
            enc = tokenizer(text, truncation=True, max_length=max_length, return_special_tokens_mask=True)
            ids = torch.tensor([enc["input_ids"]])
            scores = []
            for position, special in enumerate(enc["special_tokens_mask"]):
                if special:
                    continue
                masked = ids.clone()
                masked[0, position] = tokenizer.mask_token_id
                logits = model(input_ids=masked).logits[0, position].double()
                scores.append(torch.log_softmax(logits, -1)[ids[0, position]].item())
            out.append(np.array(scores))
    return out


def naive_causal(model: torch.nn.Module, tokenizer: object, texts: list[str], max_length: int) -> list[np.ndarray]:
    out = []
    with torch.inference_mode():
        for text in texts:
            ids = torch.tensor([tokenizer(text, truncation=True, max_length=max_length)["input_ids"]])
            logits = model(input_ids=ids).logits[0, :-1].double()
            out.append(torch.log_softmax(logits, -1).gather(1, ids[0, 1:, None]).squeeze(1).numpy())
    return out


def timed(run: Callable[[], list[np.ndarray]]) -> tuple[list[np.ndarray], float, float]:
    """Result, wall seconds and CPU seconds of this process (CPU time is less sensitive to a loaded machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def compare(kind: str, texts: list[str], batch_size: int, max_length: int, repeats: int) -> bool:
    """Time the one-at-a-time baseline and the batched scorer(s) `repeats` times, interleaved; report the
    fastest run of each (the least disturbed by other load) and the largest score difference seen."""
    model, tokenizer = build(kind, texts)
    naive = naive_pll if kind == "masked" else naive_causal
    baseline = "one forward per masked token" if kind == "masked" else "one forward per text"

    def batched() -> list[np.ndarray]:
        return score_texts(
            model, tokenizer, kind, texts, batch_size=batch_size, max_length=max_length, progress=False
        ).logprob

    def batched_generic() -> list[np.ndarray]:
        # The same batching with the plain encoder + MLM head at the masked rows, i.e. without the
        # PLL-specialised BERT pass: shows what that pass adds.
        with mock.patch.object(masked_scoring, "supports_pll_encoder", lambda _: False):
            return batched()

    methods: dict[str, Callable[[], list[np.ndarray]]] = {
        baseline: lambda: naive(model, tokenizer, texts, max_length),
        "batched": batched,
    }
    if kind == "masked":
        methods["batched, generic encoder + head"] = batched_generic
    walls: dict[str, list[float]] = {name: [] for name in methods}
    cpus: dict[str, list[float]] = {name: [] for name in methods}
    worst = 0.0
    for _ in range(repeats):
        for name, run in methods.items():
            scores, wall, cpu = timed(run)
            walls[name].append(wall)
            cpus[name].append(cpu)
            if name == baseline:
                reference = scores
            else:
                worst = max(worst, max(float(np.abs(a - b).max()) for a, b in zip(reference, scores) if len(a)))
    tokens = int(sum(len(a) for a in reference))
    print(f"{kind}: {len(texts)} sentences, {tokens} scored tokens, batch {batch_size}, best of {repeats}")
    width = max(len(name) for name in methods)
    for name in methods:
        wall, cpu = min(walls[name]), min(cpus[name])
        ratio = (
            ""
            if name == baseline
            else (f"   speed-up {min(walls[baseline]) / wall:5.1f}x wall, {min(cpus[baseline]) / cpu:5.1f}x CPU")
        )
        print(f"  {name:<{width}}  {wall:7.2f} s wall  {cpu:7.2f} s CPU{ratio}")
    print(f"  max |score difference| from the baseline: {worst:.2e}")
    return worst <= 1e-6


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def memory_child(n: int, batch_size: int) -> None:
    """Peak RSS added by scoring alone: the kernel's peak counter (VmHWM) is reset just before scoring."""
    texts = sentences(n)
    model, tokenizer = build("masked", texts)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
    before = _status_kib("VmRSS")
    score_texts(model, tokenizer, "masked", texts, batch_size=batch_size, max_length=64, progress=False)
    print(f"{before} {_status_kib('VmHWM')}")


def memory_sweep(sizes: list[int], batch_size: int, threads: int) -> None:
    print(f"peak RSS added by batched PLL scoring (masked, batch {batch_size}), fresh process per size:")
    for n in sizes:
        result = subprocess.run(
            [
                sys.executable,
                __file__,
                "--memory-child",
                str(n),
                "--batch-size",
                str(batch_size),
                "--threads",
                str(threads),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        before, peak = (int(x) for x in result.stdout.split()[-2:])
        print(
            f"  {n:6d} sentences: scoring raised peak RSS by {(peak - before) / 1024:7.1f} MiB "
            f"(RSS before {before / 1024:.0f} MiB)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved timing runs; the fastest is reported")
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[100, 400, 1600, 6400])
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child is not None:
        memory_child(args.memory_child, args.batch_size)
        return 0
    texts = sentences(args.sentences)
    ok = compare("masked", texts, args.batch_size, args.max_length, args.repeats)
    ok &= compare("causal", texts, max(1, args.batch_size // 4), args.max_length, args.repeats)
    if args.memory_sizes:
        memory_sweep(args.memory_sizes, args.batch_size, args.threads)
    if not ok:
        print("FAIL: batched scores differ from the one-at-a-time scores by more than 1e-6")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
